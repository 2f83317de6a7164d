"""Fact-checking case pages: list with filters and search, new case form, case page and its
actions (one POST endpoint per action, each calling one factcheck.cases service), protected
images of evidence, linked submissions and their report overlays. The links of submissions to
a case are moderation's (moderation.escalation); cases know nothing of submissions.

The services check roles; these views only turn their refusals into messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from pathlib import PurePath
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.authentication import signed_in_user
from accounts.models import User
from accounts.roles import role_needed
from factcheck.cases import curation, services
from factcheck.cases.models import Case, Evidence
from factcheck.cases.selectors import case_link, case_list, references_search, typed_id
from factcheck.cases.workflow import (
    STATUS_PUBLISHED,
    STATUS_RATED,
    case_statuses,
    rating_scale,
)
from frontend.presenters import verdict_display
from mediastore.images import ImageRejected
from mediastore.serving import media_file_response, stored_name
from moderation.escalation import case_submission_states, case_submissions
from moderation.models import CaseSubmission, ReportArtifact, artifact_file_type
from moderation.report_document import verdict_of

CASES_PAGE_SIZE = 25
# The newest timeline entries shown at once; older ones sit behind a disclosure.
TIMELINE_SHOWN = 12
# Overlays shown next to a linked submission, in this order.
OVERLAY_KINDS = ("edit_overlay", "aligned_reference", "forensic_overlay", "faces_overlay")
_P = ParamSpec("_P")


def case_view(
    view: Callable[Concatenate[HttpRequest, _P], HttpResponseBase],
) -> Callable[Concatenate[HttpRequest, _P], HttpResponseBase]:
    """Signed in (else to login) and allowed to see cases (else 403)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: _P.args, **kwargs: _P.kwargs) -> HttpResponseBase:
        if not request.user.has_perm(services.PERM_VIEW):
            raise PermissionDenied(
                role_needed("Looking at fact-check cases", permissions=[services.PERM_VIEW])
            )
        return view(request, *args, **kwargs)

    return wrapped


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@case_view
@require_GET
def case_index(request: HttpRequest) -> HttpResponse:
    params = request.GET
    statuses, scale = list(case_statuses()), rating_scale()
    filters = {
        "status": params.get("status", "") if params.get("status") in statuses else "",
        "assignee": params.get("assignee", "")[:150],
        "rating": params.get("rating", "") if params.get("rating") in scale.values else "",
        "from": params.get("from", ""),
        "to": params.get("to", ""),
        "q": params.get("q", "")[:200],
    }
    assignee = None
    if filters["assignee"]:
        assignee = User.objects.filter(username=filters["assignee"]).first() or -1
    cases = case_list(
        status=filters["status"],
        assignee=assignee,
        rating=filters["rating"],
        created_from=_date(filters["from"]),
        created_to=_date(filters["to"]),
        search=filters["q"],
    ).prefetch_related("assignees", "claims")
    page = Paginator(cases, CASES_PAGE_SIZE).get_page(params.get("page"))
    query = urlencode({key: value for key, value in filters.items() if value})
    return render(
        request,
        "frontend/cases/list.html",
        {
            "page": page,
            "filters": filters,
            "query": query,
            "statuses": statuses,
            "ratings": list(scale.values),
            "assignable": User.objects.filter(assigned_cases__isnull=False).distinct(),
            "can_create": request.user.has_perm(services.PERM_ADD),
        },
    )


@case_view
def case_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(services.PERM_ADD):
        raise PermissionDenied(
            role_needed("Opening a case by hand", permissions=[services.PERM_ADD])
        )
    form = {
        key: request.POST.get(key, "").strip()
        for key in (
            "title",
            "claim",
            "claimant",
            "language",
            "appearance_url",
            "appearance_date",
            "due_date",
        )
    }
    if request.method == "POST":
        claims = []
        if form["claim"]:
            claims.append(
                services.ClaimInput(
                    text=form["claim"],
                    claimant=form["claimant"],
                    language=form["language"],
                    appearance_url=form["appearance_url"],
                    appearance_date=_date(form["appearance_date"]),
                )
            )
        try:
            case = services.case_create(
                title=form["title"],
                actor=signed_in_user(request),
                claims=claims,
                due_date=_date(form["due_date"]),
            )
        except services.CaseError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Case {case.pk} opened.")
            return redirect("case-detail", pk=case.pk)
    return render(request, "frontend/cases/new.html", {"form": form})


def _linked_submissions(case: Case, user: User) -> list[dict[str, Any]]:
    """Each linked submission with the overlays of the report version attached to the case,
    and where it stands in review now (its item, latest decision and current verdict)."""
    links = list(case_submissions(case))
    states = case_submission_states(links=links, user=user)
    # One query for the overlays of every linked report, not one per link.
    overlays: dict[int, dict[str, ReportArtifact]] = {}
    for artifact in ReportArtifact.objects.filter(
        report_id__in=[link.report_id for link in links if link.report_id],
        kind__in=OVERLAY_KINDS,
    ):
        overlays.setdefault(artifact.report_id, {})[artifact.kind] = artifact
    shown = []
    for link in links:
        artifacts = overlays.get(link.report_id, {}) if link.report_id else {}
        document = link.report.document if link.report else None
        state = states.get(link.submission_id)
        shown.append(
            {
                "link": link,
                "verdict": verdict_display(link.report.label if link.report else None),
                "reasons": list(verdict_of(document).reasons),
                "overlays": [
                    (kind, artifacts[kind]) for kind in OVERLAY_KINDS if kind in artifacts
                ],
                "state": state,
                "current_verdict": verdict_display(state.current_label) if state else None,
            }
        )
    return shown


@case_view
@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(Case.objects.prefetch_related("assignees", "watchers"), pk=pk)
    user = signed_in_user(request)
    statuses = case_statuses()
    timeline = list(case.timeline.select_related("actor").order_by("-created_at", "-id"))
    can_change = user.has_perm(services.PERM_CHANGE)
    people = list(
        User.objects.filter(is_active=True, groups__name__in=["fact_checker"])
        .distinct()
        .order_by("username")
    )
    if can_change and user not in people:
        people.insert(0, user)  # assignment offers the signed-in user first, and selects them
    return render(
        request,
        "frontend/cases/detail.html",
        {
            "case": case,
            "link": case_link(case),
            "claims": case.claims.all(),
            "evidence": case.evidence.select_related("reference", "media", "added_by"),
            "submissions": _linked_submissions(case, user),
            "timeline": timeline[:TIMELINE_SHOWN],
            "timeline_earlier": timeline[TIMELINE_SHOWN:],
            "comments": case.comments.select_related("author"),
            "next_statuses": [
                status
                for status in statuses.get(case.status, ())
                if status not in (STATUS_RATED, STATUS_PUBLISHED)
            ],
            "ratings": list(rating_scale().values),
            "can_change": can_change,
            "can_rate": user.has_perm(services.PERM_RATE),
            "rating_refusal": services.rating_refusal(case),
            "can_correct": case.status == STATUS_PUBLISHED
            and user.has_perm(services.PERM_PUBLISH)
            and user.has_perm(services.PERM_RATE),
            "can_publish": user.has_perm(services.PERM_PUBLISH)
            and STATUS_PUBLISHED in statuses.get(case.status, ()),
            "can_curate": user.has_perm(curation.PERM_ADD_REFERENCE),
            "can_remove_references": user.has_perm(curation.PERM_DELETE_REFERENCE),
            "evidence_kinds": Evidence.Kind.choices,
            "people": people,
        },
    )


def _action(request: HttpRequest, pk: int, run: Callable[[Case], str]) -> HttpResponse:
    case = get_object_or_404(Case, pk=pk)
    try:
        done = run(case)
    except (services.CaseError, ImageRejected) as error:
        messages.error(request, str(error))
    except services.CasePermissionDenied as error:
        raise PermissionDenied(str(error)) from error
    else:
        messages.success(request, done)
    return redirect("case-detail", pk=case.pk)


@case_view
@require_POST
def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """POST /cases/<pk>/<action>/: one form per service."""
    handler = CASE_ACTIONS.get(action)
    if handler is None:
        raise Http404(f"no case action {action!r}")
    return _action(request, pk, lambda case: handler(request, case))


def _comment(request: HttpRequest, case: Case) -> str:
    services.comment_add(
        case=case, actor=signed_in_user(request), body=request.POST.get("body", "")
    )
    return "Comment added."


def _claim(request: HttpRequest, case: Case) -> str:
    post = request.POST
    services.claim_add(
        case=case,
        actor=signed_in_user(request),
        claim=services.ClaimInput(
            text=post.get("text", ""),
            claimant=post.get("claimant", ""),
            language=post.get("language", ""),
            appearance_url=post.get("appearance_url", ""),
            appearance_date=_date(post.get("appearance_date", "")),
        ),
    )
    return "Claim added."


def _evidence(request: HttpRequest, case: Case) -> str:
    post, upload = request.POST, request.FILES.get("media")
    curation.evidence_add(
        case=case,
        actor=signed_in_user(request),
        kind=post.get("kind", ""),
        reference=curation.evidence_reference_resolve(post.get("reference", "")),
        url=post.get("url", ""),
        note=post.get("note", ""),
        content=upload.read() if upload is not None else None,
    )
    return "Evidence added."


def _verify(request: HttpRequest, case: Case) -> str:
    post = request.POST
    evidence = _case_evidence(case, post.get("evidence", ""))
    reference = curation.evidence_mark_verified_original(
        evidence=evidence,
        actor=signed_in_user(request),
        source=post.get("source", ""),
        credit=post.get("credit", ""),
        licence=post.get("licence", ""),
    )
    return f"Added to the index as verified original {reference.pk}."


def _remove_reference(request: HttpRequest, case: Case) -> str:
    evidence = _case_evidence(case, request.POST.get("evidence", ""))
    curation.case_reference_remove(
        evidence=evidence, actor=signed_in_user(request), reason=request.POST.get("reason", "")
    )
    return "Reference removed from the index."


def _transition(request: HttpRequest, case: Case) -> str:
    if request.POST.get("expected_status"):
        case.status = request.POST["expected_status"]  # the status the page showed: CAS on it
    services.case_transition(
        case=case, actor=signed_in_user(request), to_status=request.POST.get("status", "")
    )
    return f"Case is now {case.status}."


def _rate(request: HttpRequest, case: Case) -> str:
    services.case_rate(
        case=case,
        actor=signed_in_user(request),
        rating=request.POST.get("rating", ""),
        explanation=request.POST.get("explanation", ""),
    )
    return f"Rated {case.rating}."


def _correct(request: HttpRequest, case: Case) -> str:
    post = request.POST
    services.case_correct(
        case=case,
        actor=signed_in_user(request),
        rating=post.get("rating", ""),
        explanation=post.get("explanation", ""),
        note=post.get("note", ""),
    )
    return f"Corrected to {case.rating} and republished."


def _publish(request: HttpRequest, case: Case) -> str:
    services.case_publish(case=case, actor=signed_in_user(request))
    return "Published."


def _assign(request: HttpRequest, case: Case) -> str:
    post = request.POST
    user = User.objects.filter(username=post.get("username", ""), is_active=True).first()
    if user is None:
        raise services.CaseError(f"no active user {post.get('username', '')!r}")
    role = post.get("role", "assignee")
    services.case_assign(
        case=case,
        actor=signed_in_user(request),
        user=user,
        role=role,
        remove=post.get("remove") == "1",
    )
    return f"{role.capitalize()}s updated."


def _due(request: HttpRequest, case: Case) -> str:
    services.case_set_due_date(
        case=case, actor=signed_in_user(request), due_date=_date(request.POST.get("due_date", ""))
    )
    return "Due date set."


CASE_ACTIONS: dict[str, Callable[[HttpRequest, Case], str]] = {
    "comment": _comment,
    "claim": _claim,
    "evidence": _evidence,
    "verify": _verify,
    "remove-reference": _remove_reference,
    "transition": _transition,
    "rate": _rate,
    "publish": _publish,
    "correct": _correct,
    "assign": _assign,
    "due": _due,
}


def _case_evidence(case: Case, typed: str) -> Evidence:
    """The case's evidence a form names (a hidden field): a form error, not a 404, otherwise."""
    evidence_id = typed_id(typed)
    found = (
        None
        if evidence_id is None
        else Evidence.objects.select_related("case", "media", "reference")
        .filter(case=case, pk=evidence_id)
        .first()
    )
    if found is None:
        raise services.CaseError(f"no evidence {typed[:20]!r} on this case; reload the page")
    return found


@case_view
@require_GET
def reference_search(request: HttpRequest) -> JsonResponse:
    """GET /cases/references/?q=: verified originals to pick as evidence (for the evidence
    form's search box, which fills the reference field)."""
    if not request.user.has_perm(services.PERM_CHANGE):
        raise PermissionDenied(role_needed("Adding evidence", permissions=[services.PERM_CHANGE]))
    return JsonResponse({"results": references_search(request.GET.get("q", ""))})


def _image(file: FieldFile, content_type: str, *, range_header: str = "") -> HttpResponseBase:
    # nosniff, a sandboxing CSP and a fixed safe file name (mediastore.serving); a video is
    # served in the byte ranges its player asks for.
    file_name = stored_name(file)
    return media_file_response(
        file_name=file_name,
        content_type=content_type,
        stem=PurePath(file_name).stem,
        range_header=range_header,
    )


@case_view
@require_GET
def evidence_image(request: HttpRequest, pk: int, evidence_id: int) -> HttpResponseBase:
    evidence = get_object_or_404(
        Evidence.objects.select_related("media", "reference__media"), pk=evidence_id, case_id=pk
    )
    media = evidence.media or (evidence.reference.media if evidence.reference else None)
    if media is None:
        raise Http404("This evidence has no image.")
    return _image(media.file, media.mime)


@case_view
@require_GET
def submission_image(request: HttpRequest, pk: int, submission_id: int) -> HttpResponseBase:
    link = get_object_or_404(
        CaseSubmission.objects.select_related("submission__media"),
        case_id=pk,
        submission_id=submission_id,
    )
    media = link.submission.media
    return _image(media.file, media.mime, range_header=request.headers.get("Range", ""))


@case_view
@require_GET
def overlay_image(request: HttpRequest, pk: int, artifact_id: int) -> HttpResponseBase:
    """A report artifact, only of a report version attached to this case."""
    artifact = get_object_or_404(ReportArtifact, pk=artifact_id)
    if not CaseSubmission.objects.filter(case_id=pk, report_id=artifact.report_id).exists():
        raise Http404("This overlay is not part of the case.")
    return _image(artifact.file, artifact_file_type(artifact.kind).content_type)
