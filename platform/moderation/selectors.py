"""Reads for submissions, reports and the review queue, with the visibility rules every entry
point shares (writes of the queue: moderation.review).

Clients can be kept apart: a user in one or more groups named `client:<slug>` sees only the items
of those API clients (staff uploads included only for unscoped users).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import ApiClient, AuditLog, User
from moderation.models import (
    Decision,
    NearMissJudgement,
    Report,
    ReportArtifact,
    ReviewItem,
    Submission,
)

VIEW_ALL_PERMISSION = "moderation.view_submission"
REVIEW_PERMISSION_CODENAME = "review_submission"
REVIEW_PERMISSION = f"moderation.{REVIEW_PERMISSION_CODENAME}"  # claim and decide
CLIENT_SCOPE_GROUP_PREFIX = "client:"
PLATFORMS_CACHE_SECONDS = 120
# Allowed as satire or art: the picture may well be edited, so the decision says nothing about
# its pixels (review.CANNED_RATIONALES offers it; decision_image_labels skips it).
SATIRE_RATIONALE = "Satire or art, clearly presented as such."
MANIPULATED, AUTHENTIC = "fake", "real"


def api_client_of(user: User) -> ApiClient | None:
    try:
        return user.api_client
    except ApiClient.DoesNotExist:
        return None


def submissions_visible_to(user: User | AnonymousUser) -> QuerySet[Submission]:
    """An API client sees its own submissions only; staff with view_submission see all."""
    queryset = Submission.objects.select_related("media", "client")
    if not isinstance(user, User) or not user.is_authenticated:
        return queryset.none()
    client = api_client_of(user)
    if client is not None:
        return queryset.filter(client=client)
    if user.has_perm(VIEW_ALL_PERMISSION):
        return queryset
    return queryset.none()


def report_current(submission: Submission) -> Report | None:
    return Report.objects.filter(submission=submission, is_current=True).first()


def report_get(submission: Submission, *, version: int | None = None) -> Report | None:
    """The given version, or the current one."""
    if version is None:
        return report_current(submission)
    return Report.objects.filter(submission=submission, version=version).first()


def report_artifact(report: Report, *, kind: str) -> ReportArtifact | None:
    return ReportArtifact.objects.filter(report=report, kind=kind).first()


def report_versions(submission: Submission) -> list[int]:
    return list(
        Report.objects.filter(submission=submission)
        .order_by("version")
        .values_list("version", flat=True)
    )


# ---- the review queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    label: str = ""  # verdict label of the current report
    platform: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    mine: bool = False  # only items I hold a live lease on
    query: str = ""  # a submission id, an external id, or words of the caption
    sort: str = ""  # a key of QUEUE_SORTS; empty is the default order


# Orders the queue can be shown in (the page's sortable columns); the first is the default.
QUEUE_SORTS: dict[str, tuple[str, ...]] = {
    "priority": ("-priority", "created_at", "id"),
    "-priority": ("priority", "created_at", "id"),
    "oldest": ("created_at", "id"),
    "newest": ("-created_at", "-id"),
}
MAX_QUEUE_QUERY_LENGTH = 200


def _matching(query: str) -> Q:
    """Items whose submission id or external id is `query`, or whose caption contains it."""
    query = query.strip()[:MAX_QUEUE_QUERY_LENGTH]
    number = query.removeprefix("#")
    found = Q(submission__external_id=query) | Q(submission__text__icontains=query)
    if number.isdigit() and len(number) < 19:  # within a bigint
        found |= Q(submission_id=int(number))  # the id the pages show ("Submission #12")
    return found


_CLIENT_SCOPES_CACHE = "_review_client_scopes"


def client_scopes(user: User) -> list[str]:
    """Slugs of the clients a user is limited to; empty means every client."""
    # Asked several times per page: remembered on the user object of the request, as Django's
    # ModelBackend remembers permissions (`_perm_cache`), so it lives as long as the request.
    cached = getattr(user, _CLIENT_SCOPES_CACHE, None)
    if not isinstance(cached, list):
        names = user.groups.filter(name__startswith=CLIENT_SCOPE_GROUP_PREFIX).values_list(
            "name", flat=True
        )
        cached = [name[len(CLIENT_SCOPE_GROUP_PREFIX) :] for name in names]
        setattr(user, _CLIENT_SCOPES_CACHE, cached)
    return list(cached)


def items_visible(*, user: User) -> QuerySet[ReviewItem]:
    """Every review item the user may look at (any status)."""
    if not user.has_perm(VIEW_ALL_PERMISSION):
        return ReviewItem.objects.none()
    scopes = client_scopes(user)
    if scopes:
        return ReviewItem.objects.filter(submission__client__slug__in=scopes)
    return ReviewItem.objects.all()


class Verdict(TypedDict):
    """What `with_verdict` adds: the current report's label and probability (None without one)."""

    verdict_label: str | None
    verdict_probability: float | None


if TYPE_CHECKING:  # WithAnnotations cannot be subscripted at runtime on Python 3.11
    from django_stubs_ext import WithAnnotations

    ReviewItemWithVerdict = WithAnnotations[ReviewItem, Verdict]


def with_verdict(items: QuerySet[ReviewItem]) -> QuerySet[ReviewItemWithVerdict]:
    """Add the current report's label and probability (`verdict_label`, `verdict_probability`).

    Kept separate from the queue filters so counts and pages of ids never join the reports.
    """
    return items.annotate(
        current=FilteredRelation(
            "submission__reports", condition=Q(submission__reports__is_current=True)
        )
    ).annotate(
        verdict_label=F("current__label"),
        verdict_probability=F("current__manipulation_probability"),
    )


def _current_label(label: str) -> Exists:
    return Exists(
        Report.objects.filter(submission_id=OuterRef("submission_id"), is_current=True, label=label)
    )


def items_available(now: dt.datetime) -> Q:
    return Q(status=ReviewItem.Status.PENDING) | Q(
        status=ReviewItem.Status.CLAIMED, lease_expires_at__lt=now
    )


def items_held_by(user: User, now: dt.datetime) -> Q:
    return Q(status=ReviewItem.Status.CLAIMED, claimed_by=user, lease_expires_at__gte=now)


def item_held(item: ReviewItem, *, user: User, now: dt.datetime) -> bool:
    """`items_held_by` for a loaded item: claimed by the user with a lease still running (an
    expired lease is nobody's, whatever `claimed_by` still says)."""
    return (
        item.status == ReviewItem.Status.CLAIMED
        and item.claimed_by_id == user.pk
        and item.lease_expires_at is not None
        and item.lease_expires_at >= now
    )


def review_queue(
    *, user: User, filters: QueueFilters | None = None, now: dt.datetime | None = None
) -> QuerySet[ReviewItem]:
    """Items waiting for a decision (pending, expired leases, and my own live claims), best first.

    With `filters.mine` only the items I hold; `filters.query` searches ids and captions;
    ordering is `QUEUE_SORTS[filters.sort]`, by default priority, then age (oldest first).
    Plain rows (no joins unless a filter needs one): page it, then load the page with
    `queue_page`.
    """
    now = now or timezone.now()
    filters = filters or QueueFilters()
    items = items_visible(user=user)
    waiting = (
        items_held_by(user, now)
        if filters.mine
        else items_available(now) | items_held_by(user, now)
    )
    items = items.filter(waiting)
    if filters.label:
        items = items.filter(_current_label(filters.label))
    if filters.platform:
        items = items.filter(submission__platform=filters.platform)
    if filters.date_from:
        items = items.filter(submission__created_at__date__gte=filters.date_from)
    if filters.date_to:
        items = items.filter(submission__created_at__date__lte=filters.date_to)
    if filters.query.strip():
        items = items.filter(_matching(filters.query))
    return items.order_by(*QUEUE_SORTS.get(filters.sort, QUEUE_SORTS["priority"]))


def queue_page(item_ids: list[int]) -> list[ReviewItemWithVerdict]:
    """The items of one queue page, in the given order, with submission, client and verdict."""
    loaded = with_verdict(
        ReviewItem.objects.filter(pk__in=item_ids).select_related(
            "submission", "submission__client", "submission__media", "claimed_by"
        )
    ).in_bulk()
    return [loaded[pk] for pk in item_ids if pk in loaded]


def queue_counts(*, user: User, now: dt.datetime | None = None) -> dict[str, Any]:
    """Waiting items per verdict label, all waiting items, and the ones I hold."""
    now = now or timezone.now()
    visible = items_visible(user=user)
    waiting = visible.filter(items_available(now) | items_held_by(user, now))
    by_label = dict(
        Report.objects.filter(is_current=True, submission_id__in=waiting.values("submission_id"))
        .order_by()
        .values_list("label")
        .annotate(count=Count("id"))
    )
    return {
        "waiting": waiting.count(),
        "mine": visible.filter(items_held_by(user, now)).count(),
        "by_label": by_label,
    }


def queue_platforms(*, user: User) -> list[str]:
    """Source platforms present in the user's visible items, for the filter menu.

    Cached briefly: it scans every visible item, and a new platform showing up a few minutes
    late in a menu costs nothing.
    """
    key = (
        "review:platforms:"
        + ",".join(sorted(client_scopes(user)))
        + f":{user.has_perm(VIEW_ALL_PERMISSION)}"
    )

    def platforms() -> list[str]:
        return sorted(
            items_visible(user=user)
            .exclude(submission__platform="")
            .order_by()
            .values_list("submission__platform", flat=True)
            .distinct()
        )

    cached: list[str] = cache.get_or_set(key, platforms, PLATFORMS_CACHE_SECONDS) or []
    return cached


def item_history(*, item: ReviewItem) -> dict[str, Any]:
    """Decisions, report versions (without their documents) and the audit trail of an item
    (its claims, decisions and near-miss judgements)."""
    decisions = list(item.decisions.select_related("moderator", "report"))
    targets = Q(target_type="moderation.reviewitem", target_id=str(item.pk))
    if decisions:
        targets |= Q(
            target_type="moderation.decision", target_id__in=[str(d.pk) for d in decisions]
        )
    judgements = NearMissJudgement.objects.filter(submission_id=item.submission_id)
    targets |= Q(
        target_type="moderation.nearmissjudgement",
        target_id__in=judgements.annotate(key=Cast("pk", CharField())).values("key"),
    )
    return {
        "decisions": decisions,
        "reports": list(
            Report.objects.filter(submission_id=item.submission_id)
            .defer("document")
            .order_by("-version")
        ),
        "audit": list(AuditLog.objects.filter(targets).select_related("actor")[:50]),
    }


def sla_deadline(received_at: dt.datetime) -> dt.datetime:
    """When an item received at `received_at` should be decided (settings.REVIEW_SLA_HOURS)."""
    return received_at + dt.timedelta(hours=int(settings.REVIEW_SLA_HOURS))


MAX_ASSIGNEES = 200


def assignees_for(*, item: ReviewItem, user: User) -> list[User]:
    """The people (not API clients) other than `user` who may review the item and can see it."""
    candidates = (
        User.objects.filter(is_active=True, api_client__isnull=True)
        .exclude(pk=user.pk)
        .filter(
            Q(is_superuser=True)
            | Q(groups__permissions__codename=REVIEW_PERMISSION_CODENAME)
            | Q(user_permissions__codename=REVIEW_PERMISSION_CODENAME)
        )
        .distinct()
        .order_by("username")[:MAX_ASSIGNEES]
    )
    return [
        person
        for person in candidates
        if person.has_perm(REVIEW_PERMISSION)
        and items_visible(user=person).filter(pk=item.pk).exists()
    ]


def decisions_by(*, user: User) -> QuerySet[Decision]:
    """A moderator's decisions, newest first, with their items and submissions."""
    return Decision.objects.filter(moderator=user).select_related("item", "item__submission")


@dataclass(frozen=True)
class LabelledDecision:
    decision: Decision
    label: str  # MANIPULATED or AUTHENTIC


def decision_image_label(decision: Decision) -> str | None:
    """What a decision says about the picture's pixels, or None when it says nothing clear.

    Manipulated: the label action with a label in REVIEW_MANIPULATED_LABELS ("altered image",
    "synthetic media"). Authentic: allow (the moderator found nothing wrong), except allowed as
    satire or art; the label action with a label in REVIEW_AUTHENTIC_LABELS ("missing context":
    a real picture in the wrong context). Nothing: remove (also for hoaxes that are unaltered
    pictures, and for reasons other than manipulation), escalate (undecided) and other labels.
    """
    if decision.action == Decision.Action.LABEL:
        if decision.label in settings.REVIEW_MANIPULATED_LABELS:
            return MANIPULATED
        return AUTHENTIC if decision.label in settings.REVIEW_AUTHENTIC_LABELS else None
    if decision.action == Decision.Action.ALLOW and decision.rationale != SATIRE_RATIONALE:
        return AUTHENTIC
    return None


def decisions_latest_on_images(*, since: dt.datetime | None = None) -> QuerySet[Decision]:
    """Each image submission's latest decision that was not undone (made since `since`), with
    its submission and media, oldest first."""
    latest = Decision.objects.filter(item=OuterRef("item"), undone_at__isnull=True).order_by(
        "-created_at", "-id"
    )
    decisions = Decision.objects.filter(
        id=Subquery(latest.values("id")[:1]),
        item__submission__media__kind="image",
    )
    if since is not None:
        decisions = decisions.filter(created_at__gte=since)
    return decisions.select_related("item__submission__media").order_by("created_at", "id")


def decision_image_labels(
    *, since: dt.datetime | None = None
) -> tuple[list[LabelledDecision], list[Decision]]:
    """(labelled decisions, decisions skipped as saying nothing clear about the pixels)."""
    labelled: list[LabelledDecision] = []
    skipped: list[Decision] = []
    for decision in decisions_latest_on_images(since=since):
        label = decision_image_label(decision)
        if label is None:
            skipped.append(decision)
        else:
            labelled.append(LabelledDecision(decision, label))
    return labelled, skipped
