"""Review UI pages: the queue, the item page, claim/release/decide, protected images, audit log.

Views are thin: reads go through moderation.review selectors and frontend.presenters, writes
through moderation.review services. Items outside a user's scope answer 404, so a page never
reveals that another tenant's item exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from pathlib import PurePath
from typing import Concatenate, ParamSpec
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.paginator import Paginator
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.authentication import signed_in_user
from accounts.models import AuditLog, User
from accounts.roles import ADMIN, role_needed, user_has_role
from accounts.selectors import viewing_preferences_of
from factcheck.models import Reference
from frontend.action_words import action_words, audit_target
from frontend.presenters import (
    VERDICT_LABELS,
    item_page_data,
    lease_remaining,
    verdict_display,
)
from frontend.queue_presenters import sla_display
from frontend.undo_offer import undo_offer, undo_offer_set
from mediastore.models import MediaObject
from mediastore.renditions import name_key
from mediastore.serving import display_file_response, media_file_response, stored_name
from moderation.models import (
    Decision,
    NearMissJudgement,
    ReportArtifact,
    ReviewItem,
    artifact_file_type,
)
from moderation.near_misses import NearMissError, near_miss_find, near_miss_judge
from moderation.report_document import matched_reference_ids
from moderation.review import (
    CANNED_RATIONALES,
    REVIEW_PERMISSION,
    ReviewError,
    ReviewPermissionDenied,
    decision_make,
    item_claim,
    item_next,
    item_release,
    review_labels,
)
from moderation.review_groups import (
    MAX_GROUP_SIZE,
    group_decision_make,
    group_sizes,
    item_group,
)
from moderation.review_settings import (
    queue_query_clean,
    reviewer_settings,
    reviewer_settings_update,
    saved_filters,
)
from moderation.selectors import (
    MAX_QUEUE_QUERY_LENGTH,
    QUEUE_SORTS,
    VIEW_ALL_PERMISSION,
    QueueFilters,
    assignees_for,
    item_held,
    item_history,
    items_visible,
    queue_counts,
    queue_page,
    queue_platforms,
    report_get,
    review_queue,
    with_verdict,
)

QUEUE_PAGE_SIZE = 25
AUDIT_PAGE_SIZE = 50
_P = ParamSpec("_P")


def reviewer_view(
    view: Callable[Concatenate[HttpRequest, _P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, _P], HttpResponseBase]:
    """Signed in (else to login) and allowed to look at submissions (else 403)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: _P.args, **kwargs: _P.kwargs) -> HttpResponseBase:
        if not request.user.has_perm(VIEW_ALL_PERMISSION):
            raise PermissionDenied(
                role_needed("Looking at submissions", permissions=[VIEW_ALL_PERMISSION])
            )
        return view(request, *args, **kwargs)

    return wrapped


def _visible_item(request: HttpRequest, pk: int) -> ReviewItem:
    return get_object_or_404(
        with_verdict(items_visible(user=signed_in_user(request))).select_related(
            "submission", "submission__media", "submission__client", "claimed_by"
        ),
        pk=pk,
    )


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(request: HttpRequest) -> QueueFilters:
    return QueueFilters(
        label=request.GET.get("label", "") if request.GET.get("label") in VERDICT_LABELS else "",
        platform=request.GET.get("platform", "")[:100],
        date_from=_date(request.GET.get("from", "")),
        date_to=_date(request.GET.get("to", "")),
        mine=request.GET.get("mine") == "1",
        query=request.GET.get("q", "").strip()[:MAX_QUEUE_QUERY_LENGTH],
        sort=request.GET.get("sort", "") if request.GET.get("sort") in QUEUE_SORTS else "",
    )


def _sort_links(request: HttpRequest, filters: QueueFilters) -> dict[str, dict[str, str]]:
    """For each sortable column: the link that sorts by it (or reverses it) and its aria-sort."""
    query = {k: v for k, v in request.GET.items() if k not in ("page", "sort") and v}
    current = filters.sort or "priority"
    columns = {"priority": ("priority", "-priority"), "received": ("oldest", "newest")}
    links = {}
    for column, (first, second) in columns.items():
        target = second if current == first else first
        state = "none"
        if current in (first, second):
            descending = (column == "priority") == (current == first)
            state = "descending" if descending else "ascending"
        links[column] = {"href": "?" + urlencode({**query, "sort": target}), "aria_sort": state}
    return links


@reviewer_view
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    filters = _filters(request)
    now = timezone.now()
    # Page over bare ids (one table, no joins), then load the 25 rows with their details.
    waiting = review_queue(user=user, filters=filters, now=now)
    group_lead = None
    if "group" in request.GET:  # one group's members: the queue's "N in group" links
        wanted = request.GET["group"]
        group_lead = (
            items_visible(user=user).filter(pk=int(wanted)).select_related("submission").first()
            if wanted.isdigit() and len(wanted) < 19
            else None
        )
        waiting = (
            waiting.filter(pk__in=item_group(item=group_lead, user=user).values("pk"))
            if group_lead is not None
            else waiting.none()
        )
    item_ids = waiting.values_list("pk", flat=True)
    current = Paginator(item_ids, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    page_items = queue_page(list(current.object_list))
    rows = [
        {
            "item": item,
            "verdict": verdict_display(item.verdict_label),
            "probability": None
            if item.verdict_probability is None
            else f"{item.verdict_probability * 100:.0f}%",
            "mine": item_held(item, user=user, now=now),
            "lease_left": lease_remaining(item, now),
            "is_video": item.submission.media.kind == MediaObject.Kind.VIDEO,
            "sla": sla_display(item.submission.created_at, now),
        }
        for item in page_items
    ]
    sizes = group_sizes(items=list(page_items), user=user)
    for row, item in zip(rows, page_items, strict=True):
        row["group_size"] = sizes.get(item.pk, 1)
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    counts = queue_counts(user=user, now=now)
    saved_query = queue_query_clean(urlencode(query))
    return render(
        request,
        "frontend/queue.html",
        {
            "rows": rows,
            "page": current,
            "filters": filters,
            "query": urlencode(query),
            "counts": counts,
            "label_counts": [
                {
                    "label": label,
                    "verdict": verdict_display(label),
                    "count": counts["by_label"].get(label, 0),
                }
                for label in VERDICT_LABELS
            ],
            "verdict_labels": [(label, verdict_display(label)["text"]) for label in VERDICT_LABELS],
            "platforms": queue_platforms(user=user),
            "can_review": user.has_perm(REVIEW_PERMISSION),
            "sort_links": _sort_links(request, filters),
            "saved_filters": saved_filters(user),
            "reviewer_settings": reviewer_settings(user),
            "group_lead": group_lead,
            "now": now,
            "undo": undo_offer(request),
            "saved_query": saved_query,
            "filtered": bool(saved_query),
        },
    )


@reviewer_view
@require_GET
def item_page(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible_item(request, pk)
    version = request.GET.get("version")
    report = report_get(
        item.submission, version=int(version) if version and version.isdigit() else None
    )
    if version and report is None:
        raise Http404("No such report version.")
    now = timezone.now()
    holds = (
        item.status == ReviewItem.Status.CLAIMED
        and item.claimed_by_id == request.user.pk
        and item.lease_expires_at is not None
        and item.lease_expires_at >= now
    )
    available = item.status == ReviewItem.Status.PENDING or (
        item.status == ReviewItem.Status.CLAIMED
        and item.lease_expires_at is not None
        and item.lease_expires_at < now
    )
    can_review = request.user.has_perm(REVIEW_PERMISSION)
    return render(
        request,
        "frontend/item.html",
        {
            "item": item,
            "submission": item.submission,
            "data": item_page_data(
                item=item, report=report, viewing=viewing_preferences_of(request.user)
            ),
            "history": item_history(item=item),
            "holds": holds,
            "can_review": can_review,
            "can_claim": can_review and available,
            "lease_left": lease_remaining(item, now) if holds else None,
            "actions": Decision.Action.choices,
            "labels": review_labels(),
            "is_old_version": report is not None and not report.is_current,
            "group": _group_summary(item, signed_in_user(request)) if can_review else None,
            "canned_rationales": CANNED_RATIONALES,
            "assignees": assignees_for(item=item, user=signed_in_user(request))
            if can_review and (holds or available)
            else [],
            "undo": undo_offer(request),
            "advance_after_decision": reviewer_settings(
                signed_in_user(request)
            ).advance_after_decision,
        },
    )


GROUP_PREVIEW = 12  # members named on the item page; the rest behind the queue's group link


def _group_summary(item: ReviewItem, user: User) -> dict[str, object] | None:
    """The item's group for the decision form: its size and the first members (None when the
    item is alone)."""
    members = item_group(item=item, user=user)
    size = members.count()
    if size < 2:
        return None
    return {
        "size": size,
        "preview": list(members.select_related("submission")[:GROUP_PREVIEW]),
        "more": max(0, size - GROUP_PREVIEW),
        "limit": MAX_GROUP_SIZE,
        "over_limit": size > MAX_GROUP_SIZE,
    }


def local_path(request: HttpRequest, target: str) -> str:
    """`target` when it is a path on this site, else "": never an open redirect (another
    host, `//host`, `/\\host`, which browsers read as another host, or a javascript: URL)."""
    local = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if local else ""


def back(request: HttpRequest, default: str) -> str:
    """Where a form's POSTed `next` asks to go back to, if a local path, else `default`."""
    return local_path(request, request.POST.get("next", "")) or default


@reviewer_view
@require_POST
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible_item(request, pk)
    try:
        item_claim(item=item, user=signed_in_user(request))
        messages.success(request, "You are reviewing this item.")
    except ReviewError as error:
        messages.error(request, str(error))
    return redirect("review-item", pk=item.pk)


@reviewer_view
@require_POST
def release(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible_item(request, pk)
    if item_release(item=item, user=signed_in_user(request)):
        messages.info(request, "Item returned to the queue.")
    return redirect(back(request, "/review/"))


@reviewer_view
@require_POST
def next_item(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    current = request.POST.get("release", "")
    skipped: list[int] = []
    if current.isdigit():
        held = items_visible(user=user).filter(pk=int(current)).first()
        if held is not None:
            item_release(item=held, user=user)
            skipped.append(held.pk)
    try:
        item = item_next(user=user, filters=_filters_from_post(request), exclude=skipped)
    except ReviewError as error:
        messages.error(request, str(error))
        return redirect("review-queue")
    if item is None:
        messages.info(request, "Nothing else is waiting in the queue.")
        return redirect("review-queue")
    return redirect("review-item", pk=item.pk)


def _filters_from_post(request: HttpRequest) -> QueueFilters:
    label = request.POST.get("label", "")
    return QueueFilters(
        label=label if label in VERDICT_LABELS else "",
        platform=request.POST.get("platform", "")[:100],
    )


@reviewer_view
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible_item(request, pk)
    action, label = request.POST.get("action", ""), request.POST.get("label", "")
    rationale, canned = request.POST.get("rationale", ""), request.POST.get("canned", "")
    user = signed_in_user(request)
    try:
        if request.POST.get("apply_group") == "1":
            outcome = group_decision_make(
                item=item,
                user=user,
                action=action,
                label=label,
                rationale=rationale,
                canned=canned,
            )
            decision = outcome.decided[0]
            decided = outcome.decided
        else:
            outcome = None
            decision = decision_make(
                item=item, user=user, action=action, label=label, rationale=rationale, canned=canned
            )
            decided = [decision]
    except ReviewError as error:
        messages.error(request, str(error))
        return redirect("review-item", pk=item.pk)
    undo_offer_set(request, decided)
    shown = decision.get_action_display() + (f" ({decision.label})" if decision.label else "")
    if outcome is None:
        messages.success(request, f"Decision recorded: {shown}.")
    else:
        messages.success(
            request, f"Decision recorded: {shown}, for {len(outcome.decided)} items of the group."
        )
        for member, reason in outcome.skipped:
            messages.warning(request, f"Skipped submission #{member.submission_id}: {reason}.")
    return _after_decision(request, item)


def _after_decision(request: HttpRequest, item: ReviewItem) -> HttpResponse:
    """Stay on the item, or open the next one when the reviewer advances (the form's checkbox,
    remembered as their setting when they change it)."""
    user = signed_in_user(request)
    advance = reviewer_settings(user).advance_after_decision
    if "advance_shown" in request.POST:
        wanted = request.POST.get("advance") == "1"
        if wanted != advance:
            reviewer_settings_update(user=user, advance_after_decision=wanted)
        advance = wanted
    if not advance:
        return redirect("review-item", pk=item.pk)
    following = item_next(user=user, exclude=[item.pk])
    if following is None:
        messages.info(request, "Nothing else is waiting in the queue.")
        return redirect("review-queue")
    return redirect("review-item", pk=following.pk)


@reviewer_view
@require_POST
def judge_near_miss(request: HttpRequest, pk: int, reference_id: int) -> HttpResponse:
    """Confirm ("this is the original") or dismiss a near miss of the item's reports."""
    item = _visible_item(request, pk)
    try:
        judged = near_miss_judge(
            item=item,
            reference_id=reference_id,
            judgement=request.POST.get("judgement", ""),
            actor=signed_in_user(request),
        )
    except ReviewPermissionDenied as error:
        raise PermissionDenied(str(error)) from error
    except NearMissError as error:
        raise BadRequest(str(error)) from error
    name = f"{judged.source} {judged.external_id}".strip() or f"reference {reference_id}"
    if judged.judgement == NearMissJudgement.Judgement.CONFIRMED:
        messages.success(request, f"Recorded: {name} is the original.")
    else:
        messages.success(request, f"Recorded: {name} is not the original.")
    return redirect(back(request, reverse("review-item", args=[item.pk]) + "#near-misses"))


def _media_response(request: HttpRequest, file: FieldFile, content_type: str) -> HttpResponseBase:
    # nosniff, a sandboxing CSP, a fixed safe file name and byte ranges for videos
    # (mediastore.serving).
    file_name = stored_name(file)
    return media_file_response(
        file_name=file_name,
        content_type=content_type,
        stem=PurePath(file_name).stem,
        range_header=request.headers.get("Range", ""),
    )


@reviewer_view
@require_GET
def media(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The submitted file; with `?display=1` an image's display-sized rendition."""
    item = _visible_item(request, pk)
    stored = item.submission.media
    if _wants_display(request) and stored.kind == MediaObject.Kind.IMAGE:
        return _display_response(request, stored.file, stored.sha256, stored.mime)
    return _media_response(request, stored.file, stored.mime)


def _wants_display(request: HttpRequest) -> bool:
    return request.GET.get("display") == "1"


def _display_response(
    request: HttpRequest, file: FieldFile, key: str, content_type: str
) -> HttpResponseBase:
    """The display rendition of a stored image (mediastore.renditions), or the file itself when
    it is small enough."""
    file_name = stored_name(file)
    return display_file_response(
        file_name=file_name, key=key, content_type=content_type, stem=PurePath(file_name).stem
    )


@reviewer_view
@require_GET
def artifact(request: HttpRequest, pk: int, version: int, kind: str) -> HttpResponseBase:
    item = _visible_item(request, pk)
    found = get_object_or_404(
        ReportArtifact, report__submission=item.submission, report__version=version, kind=kind
    )
    content_type = artifact_file_type(kind).content_type
    if _wants_display(request) and content_type.startswith("image/"):
        key = name_key(stored_name(found.file))
        return _display_response(request, found.file, key, content_type)
    return _media_response(request, found.file, content_type)


@reviewer_view
@require_GET
def reference_image(request: HttpRequest, pk: int, reference_id: int) -> HttpResponseBase:
    """An original, only when one of this item's report versions matched it or listed it as a
    near miss; with `?display=1` an image's display-sized rendition."""
    item = _visible_item(request, pk)
    matched = any(
        reference_id in matched_reference_ids(report.document)
        for report in item.submission.reports.only("document")
    )
    listed = matched or (
        near_miss_find(submission=item.submission, reference_id=reference_id) is not None
    )
    if not listed:
        raise Http404("This original is not part of the item's report.")
    reference = get_object_or_404(Reference.objects.select_related("media"), pk=reference_id)
    stored = reference.media
    if _wants_display(request) and stored.kind == MediaObject.Kind.IMAGE:
        return _display_response(request, stored.file, stored.sha256, stored.mime)
    return _media_response(request, stored.file, stored.mime)


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    if not user_has_role(request.user, ADMIN):
        raise PermissionDenied(role_needed("The audit log", role=ADMIN))
    entries = AuditLog.objects.select_related("actor")
    action = request.GET.get("action", "").strip()[:100]
    actor = request.GET.get("actor", "").strip()[:150]
    if action:
        entries = entries.filter(action__startswith=action)
    if actor:
        entries = entries.filter(actor__username=actor)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in {"action": action, "actor": actor}.items() if v})
    rows = [
        {
            "entry": entry,
            "action": action_words(entry.action),
            "target": audit_target(entry.target_type, entry.target_id, entry.data),
        }
        for entry in page.object_list
    ]
    return render(
        request,
        "frontend/audit.html",
        {"page": page, "rows": rows, "action": action, "actor": actor, "query": query},
    )
