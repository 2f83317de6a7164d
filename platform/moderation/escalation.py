"""Escalation: a submission handed over to fact-checkers, and the links of submissions to cases.

Moderation owns the link (`models.CaseSubmission`); `factcheck.cases` knows nothing of
submissions. The case side of an escalation (opening the case, its claim and comment, the
timeline) goes through `factcheck.cases.services`, inside this module's transaction, so the case,
its link and its history exist together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import User
from factcheck.cases.models import Case
from factcheck.cases.services import (
    FINISHED_STATUSES,
    MAX_CLAIM_LENGTH,
    MAX_CLAIMANT_LENGTH,
    PERM_ADD,
    PERM_CHANGE,
    PERM_ESCALATE,
    ClaimInput,
    case_escalated_again,
    case_escalation_details_add,
    case_open_escalated,
    case_record,
    require_permission,
)
from mediastore.links import http_url
from moderation.models import CaseSubmission, Decision, ReviewItem, Submission
from moderation.selectors import items_visible, report_current, with_verdict

ESCALATION_TITLE_LENGTH = 120
# Submission metadata keys an escalated claim takes its appearance URL from, first match wins.
ESCALATION_URL_KEYS = ("url", "permalink")


def submission_escalate(*, submission: Submission, actor: User, rationale: str = "") -> Case:
    """Open a case for an escalated submission, attaching it with its current report.

    Called by the review UI's escalation and by POST /api/v1/cases/ with `submission`.
    Escalating a submission that already sits in an open case adds the rationale there instead
    of opening a second case.
    """
    require_permission(actor, PERM_ESCALATE, PERM_ADD)
    data: dict[str, Any] = {"submission_id": submission.pk, "rationale": rationale}
    with transaction.atomic():
        existing = (
            Case.objects.select_for_update()
            .filter(case_submissions__submission=submission)
            .exclude(status__in=FINISHED_STATUSES)
            .order_by("-id")
            .first()
        )
        if existing is not None:
            case_escalated_again(case=existing, actor=actor, data=data, rationale=rationale)
            return existing
        text = " ".join((submission.text or "").split())
        title = text[:ESCALATION_TITLE_LENGTH] or f"Escalated submission {submission.pk}"
        case = case_open_escalated(title=title, actor=actor, data=data)
        case_submission_link(case=case, submission=submission, actor=actor, note=rationale)
        claim = None
        if text:
            metadata = submission.metadata if isinstance(submission.metadata, dict) else {}
            claim = ClaimInput(
                text=text[:MAX_CLAIM_LENGTH],
                claimant=_author_name(metadata.get("author"))[:MAX_CLAIMANT_LENGTH],
                appearance_url=_appearance_url(metadata),
                appearance_date=submission.created_at.date() if submission.created_at else None,
            )
        case_escalation_details_add(case=case, actor=actor, claim=claim, rationale=rationale)
    return case


def case_submission_link(
    *, case: Case, submission: Submission, actor: User, note: str = ""
) -> CaseSubmission:
    """Attach a submission to a case with its current report (fact-checkers, and moderators
    escalating); linking it again changes nothing. A "link_submission" entry goes into the
    case's timeline and the audit log."""
    require_permission(actor, PERM_CHANGE, PERM_ESCALATE, PERM_ADD)
    with transaction.atomic():
        report = report_current(submission)
        link, created = CaseSubmission.objects.get_or_create(
            case=case,
            submission=submission,
            defaults={"report": report, "note": note, "added_by": actor},
        )
        if created:
            case_record(
                case=case,
                actor=actor,
                kind="link_submission",
                data={"submission_id": submission.pk, "report_id": report.pk if report else None},
            )
    return link


def case_submissions(case: Case) -> QuerySet[CaseSubmission]:
    """The submissions linked to a case, oldest link first, with media and linked report."""
    return CaseSubmission.objects.filter(case=case).select_related(
        "submission", "submission__media", "report"
    )


def submission_cases(submission: Submission) -> list[Case]:
    """The cases a submission is linked to, newest link first (the item page links them)."""
    return [
        link.case
        for link in CaseSubmission.objects.filter(submission=submission)
        .select_related("case")
        .order_by("-created_at", "-id")
    ]


@dataclass(frozen=True)
class LinkedItemState:
    """Where a case's linked submission stands in review now (the case page shows it)."""

    item_id: int | None  # its review item, when the user may open it
    status: str  # the review item's status in words ("" without a review item)
    current_label: str | None  # the current report's verdict label
    decision: Decision | None  # the latest decision on it


def case_submission_states(
    *, links: Sequence[CaseSubmission], user: User
) -> dict[int, LinkedItemState]:
    """Per linked submission id: its review item's status, latest decision and current verdict
    (three queries for the whole case, not per link). Items outside the user's client scope
    show their state but no link."""
    submission_ids = [link.submission_id for link in links]
    items = list(with_verdict(ReviewItem.objects.filter(submission_id__in=submission_ids)))
    visible = set(
        items_visible(user=user)
        .filter(pk__in=[item.pk for item in items])
        .values_list("pk", flat=True)
    )
    latest: dict[int, Decision] = {}
    for decision in (
        Decision.objects.filter(item__in=items)
        .select_related("moderator")
        .order_by("item_id", "-created_at", "-id")
    ):
        latest.setdefault(decision.item_id, decision)
    return {
        item.submission_id: LinkedItemState(
            item_id=item.pk if item.pk in visible else None,
            status=item.get_status_display(),
            current_label=item.verdict_label,
            decision=latest.get(item.pk),
        )
        for item in items
    }


def _appearance_url(metadata: dict[str, Any]) -> str:
    """Where the platform says the post appeared: the first http(s) link among ESCALATION_URL_KEYS.

    Anything else (a javascript: or data: URL, a number) is dropped rather than copied into the
    claim, so escalation never fails on a platform's metadata and never stores a bad link."""
    for key in ESCALATION_URL_KEYS:
        url = http_url(metadata.get(key))
        if url:
            return url
    return ""


def _author_name(author: Any) -> str:
    """The claimant from the author a platform sent ({"name"}, {"handle"}... or a plain string)."""
    if isinstance(author, dict):
        for key in ("name", "handle", "username", "id"):
            if author.get(key):
                return str(author[key])
        return ""
    return str(author or "")
