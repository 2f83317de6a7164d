"""Writes for cases: create, claims, comments, assignment, workflow, rating and publishing.

Every write checks the actor's permission (so the API, the pages and the review UI's escalation
enforce the same rules), records a timeline entry and an audit entry in its own transaction, and
changes status by compare-and-set so two people acting on the same case never both succeed.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from accounts.roles import role_needed
from accounts.services import audit_record
from config.errors import ServiceError
from factcheck.cases.models import Case, Claim, Comment, TimelineEntry
from factcheck.cases.workflow import (
    STATUS_CLOSED,
    STATUS_PUBLISHED,
    STATUS_RATED,
    can_transition,
    case_statuses,
    initial_status,
    rating_scale,
)
from mediastore.links import UnsafeLink, http_url_check

MAX_TITLE_LENGTH = 300
MAX_CLAIM_LENGTH = 5_000
MAX_COMMENT_LENGTH = 10_000
MAX_EXPLANATION_LENGTH = 10_000
MAX_CLAIMANT_LENGTH = 300
MAX_LANGUAGE_LENGTH = 16
SLUG_TITLE_LENGTH = 80
# Cases in these statuses are finished: content escalated again opens a new case.
FINISHED_STATUSES = (STATUS_PUBLISHED, STATUS_CLOSED)


class CaseError(ServiceError, ValueError):
    """The change cannot be made as asked (400); the message says why, `code` names the reason."""

    default_code = "case_invalid"


class CaseConflict(CaseError):
    """The case changed meanwhile (compare-and-set failed); reload and try again (409)."""

    default_code = "case_conflict"
    status = HTTPStatus.CONFLICT


def link_check(value: str, *, field: str) -> str:
    """An http(s) URL typed by a person or sent by an API client, or CaseError (`url_not_http`)."""
    try:
        return http_url_check(value, field=field)
    except UnsafeLink as error:
        raise CaseError(str(error), code=error.code) from None


class CasePermissionDenied(ServiceError, PermissionError):
    """The actor's role does not allow this change (403)."""

    default_code = "permission_denied"
    status = HTTPStatus.FORBIDDEN


PERM_VIEW = "factcheck.view_case"
PERM_ADD = "factcheck.add_case"
PERM_CHANGE = "factcheck.change_case"
PERM_ESCALATE = "factcheck.escalate_case"
PERM_RATE = "factcheck.rate_case"
PERM_PUBLISH = "factcheck.publish_case"


def require_permission(actor: User | None, *permissions: str) -> None:
    """Raise CasePermissionDenied unless the actor holds at least one of the permissions."""
    if actor is None or not actor.is_active:
        raise CasePermissionDenied("an active user is required")
    if not any(actor.has_perm(permission) for permission in permissions):
        raise CasePermissionDenied(role_needed("This change", permissions=permissions))


@dataclass(frozen=True)
class ClaimInput:
    text: str
    language: str = ""
    claimant: str = ""
    appearance_url: str = ""
    appearance_date: datetime.date | None = None


def timeline_add(
    *, case: Case, actor: User | None, kind: str, data: dict[str, Any] | None = None
) -> TimelineEntry:
    """Append to the case history; call inside the transaction of the change."""
    return TimelineEntry.objects.create(
        case=case,
        actor=actor if actor is not None and actor.pk else None,
        kind=kind,
        data=data or {},
    )


def case_record(
    *, case: Case, actor: User | None, kind: str, data: dict[str, Any], target: Model | None = None
) -> None:
    """A timeline entry and an audit entry for a change to the case (inside its transaction);
    also how moderation records the submissions it links to a case."""
    timeline_add(case=case, actor=actor, kind=kind, data=data)
    audit_record(actor=actor, action=f"case.{kind}", target=target or case, data=data)


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title or len(title) > MAX_TITLE_LENGTH:
        raise CaseError(f"title must be 1 to {MAX_TITLE_LENGTH} characters")
    return title


def case_create(
    *,
    title: str,
    actor: User,
    claims: Sequence[ClaimInput] = (),
    due_date: datetime.date | None = None,
    assignees: Sequence[User] = (),
) -> Case:
    """Open a case by hand or from the API (fact-checkers and admins)."""
    require_permission(actor, PERM_ADD)
    title = _clean_title(title)
    with transaction.atomic():
        case = Case.objects.create(
            title=title, status=initial_status(), due_date=due_date, created_by=actor
        )
        case_record(case=case, actor=actor, kind="create", data={"title": title})
        for claim in claims:
            _claim_create(case=case, actor=actor, claim=claim)
        for user in assignees:
            _membership_change(case=case, actor=actor, user=user, role="assignee", remove=False)
    return case


def case_open_escalated(*, title: str, actor: User, data: dict[str, Any]) -> Case:
    """Open a case for content escalated from review (moderators may, as well as those who open
    cases by hand); `data` says what was escalated and goes into the "escalate" entry.

    The escalating side (moderation.escalation) calls it inside its own transaction, links what
    it escalated, then adds the claim and rationale with `case_escalation_details_add`.
    """
    require_permission(actor, PERM_ESCALATE, PERM_ADD)
    title = _clean_title(title)
    with transaction.atomic():
        case = Case.objects.create(title=title, status=initial_status(), created_by=actor)
        case_record(case=case, actor=actor, kind="escalate", data=data)
    return case


def case_escalated_again(*, case: Case, actor: User, data: dict[str, Any], rationale: str) -> None:
    """Content escalated again while it sits in this open case: an "escalate" entry (with
    `again`) and the rationale as a comment, instead of a second case."""
    require_permission(actor, PERM_ESCALATE, PERM_ADD)
    with transaction.atomic():
        case_record(case=case, actor=actor, kind="escalate", data={**data, "again": True})
        if rationale.strip():
            comment_add(case=case, actor=actor, body=rationale, _checked=True)


def case_escalation_details_add(
    *, case: Case, actor: User, claim: ClaimInput | None, rationale: str
) -> None:
    """The claim an escalation brought (the post's text) and the moderator's rationale."""
    require_permission(actor, PERM_ESCALATE, PERM_ADD)
    with transaction.atomic():
        if claim is not None:
            _claim_create(case=case, actor=actor, claim=claim)
        if rationale.strip():
            comment_add(case=case, actor=actor, body=rationale, _checked=True)


def _clean_claim(claim: ClaimInput) -> ClaimInput:
    text = claim.text.strip()
    if not text or len(text) > MAX_CLAIM_LENGTH:
        raise CaseError(f"claim text must be 1 to {MAX_CLAIM_LENGTH} characters")
    if len(claim.language) > MAX_LANGUAGE_LENGTH:
        raise CaseError(f"language must be at most {MAX_LANGUAGE_LENGTH} characters")
    if len(claim.claimant) > MAX_CLAIMANT_LENGTH:
        raise CaseError(f"claimant must be at most {MAX_CLAIMANT_LENGTH} characters")
    return ClaimInput(
        text=text,
        language=claim.language.strip(),
        claimant=claim.claimant.strip(),
        appearance_url=link_check(claim.appearance_url, field="appearance_url"),
        appearance_date=claim.appearance_date,
    )


def _claim_create(*, case: Case, actor: User, claim: ClaimInput) -> Claim:
    claim = _clean_claim(claim)
    created = Claim.objects.create(
        case=case,
        text=claim.text,
        language=claim.language,
        claimant=claim.claimant,
        appearance_url=claim.appearance_url,
        appearance_date=claim.appearance_date,
        created_by=actor,
    )
    case_record(
        case=case,
        actor=actor,
        kind="claim_add",
        data={"claim_id": created.pk, "text": claim.text[:200], "claimant": claim.claimant},
    )
    return created


def claim_add(*, case: Case, actor: User, claim: ClaimInput) -> Claim:
    require_permission(actor, PERM_CHANGE)
    with transaction.atomic():
        return _claim_create(case=case, actor=actor, claim=claim)


def comment_add(*, case: Case, actor: User, body: str, _checked: bool = False) -> Comment:
    """Anyone who can see a case may comment on it (moderators and fact-checkers talk here)."""
    if not _checked:
        require_permission(actor, PERM_VIEW)
    body = body.strip()
    if not body or len(body) > MAX_COMMENT_LENGTH:
        raise CaseError(f"a comment must be 1 to {MAX_COMMENT_LENGTH} characters")
    with transaction.atomic():
        comment = Comment.objects.create(case=case, author=actor, body=body)
        case_record(case=case, actor=actor, kind="comment", data={"comment_id": comment.pk})
    return comment


ROLES = ("assignee", "watcher")


def case_assign(
    *, case: Case, actor: User, user: User, role: str = "assignee", remove: bool = False
) -> None:
    """Add (or remove) an assignee or watcher; anyone who can see a case may watch it."""
    if role not in ROLES:
        raise CaseError(f"role must be one of {', '.join(ROLES)}")
    if role == "watcher" and user == actor:
        require_permission(actor, PERM_VIEW)
    else:
        require_permission(actor, PERM_CHANGE)
    if not remove and not user.has_perm(PERM_VIEW):
        raise CaseError(f"{user.get_username()} cannot see cases")
    with transaction.atomic():
        _membership_change(case=case, actor=actor, user=user, role=role, remove=remove)


def _membership_change(*, case: Case, actor: User, user: User, role: str, remove: bool) -> None:
    members = case.assignees if role == "assignee" else case.watchers
    present = members.filter(pk=user.pk).exists()
    if present != remove:
        return  # already as asked: nothing to record
    (members.remove if remove else members.add)(user)
    kind = f"{role}_{'remove' if remove else 'add'}"
    case_record(case=case, actor=actor, kind=kind, data={"user": user.get_username()})


def case_set_due_date(*, case: Case, actor: User, due_date: datetime.date | None) -> None:
    require_permission(actor, PERM_CHANGE)
    with transaction.atomic():
        Case.objects.filter(pk=case.pk).update(due_date=due_date, updated_at=timezone.now())
        case.due_date = due_date
        case_record(
            case=case,
            actor=actor,
            kind="due_date",
            data={"due_date": due_date.isoformat() if due_date else None},
        )


def _status_swap(*, case: Case, expected: str, new: str, **fields: Any) -> None:
    """Compare-and-set: the case moves only if it is still in the status the caller saw."""
    changed = Case.objects.filter(pk=case.pk, status=expected).update(
        status=new, updated_at=timezone.now(), **fields
    )
    if changed != 1:
        current = Case.objects.filter(pk=case.pk).values_list("status", flat=True).first()
        raise CaseConflict(f"the case is now {current!r}, not {expected!r}; reload it")
    case.status = new
    for name, value in fields.items():
        setattr(case, name, value)


def case_transition(*, case: Case, actor: User, to_status: str) -> Case:
    """Move along the configured workflow. Rating and publishing have their own services."""
    require_permission(actor, PERM_CHANGE)
    statuses = case_statuses()
    if to_status not in statuses:
        raise CaseError(f"unknown status {to_status!r}; known: {', '.join(statuses)}")
    if to_status in (STATUS_RATED, STATUS_PUBLISHED):
        raise CaseError(f"a case becomes {to_status!r} by rating or publishing it")
    old = case.status
    if not can_transition(old, to_status):
        allowed = ", ".join(statuses.get(old, ())) or "nothing"
        raise CaseError(f"a {old!r} case cannot become {to_status!r} (allowed: {allowed})")
    with transaction.atomic():
        _status_swap(case=case, expected=old, new=to_status)
        case_record(case=case, actor=actor, kind="status", data={"from": old, "to": to_status})
    return case


def rating_refusal(case: Case) -> str:
    """Why the case cannot be rated now, or "" when it can: the rule `case_rate` enforces and
    the case page follows (it offers no rating form where rating would be refused)."""
    if case.status == STATUS_PUBLISHED:
        return "a published case is changed by correcting it"
    if case.status != STATUS_RATED and not can_transition(case.status, STATUS_RATED):
        towards = [
            status
            for status in case_statuses().get(case.status, ())
            if can_transition(status, STATUS_RATED)
        ]
        hint = f"; move it to {' or '.join(repr(s) for s in towards)} first" if towards else ""
        return f"a {case.status!r} case cannot be rated{hint}"
    if not case.claims.exists():
        return "add the claim being rated first"
    return ""


def _rating_fields(*, rating: str, explanation: str) -> dict[str, Any]:
    """The case fields a rating sets, or CaseError for an unknown rating or a bad explanation."""
    scale = rating_scale()
    if rating not in scale.values:
        raise CaseError(f"unknown rating {rating!r}; known: {', '.join(scale.values)}")
    explanation = explanation.strip()
    if not explanation or len(explanation) > MAX_EXPLANATION_LENGTH:
        raise CaseError(f"the explanation must be 1 to {MAX_EXPLANATION_LENGTH} characters")
    return {
        "rating": rating,
        "rating_value": scale.values[rating],
        "rating_best": scale.best,
        "rating_worst": scale.worst,
        "explanation": explanation,
        "rated_at": timezone.now(),
    }


def case_rate(*, case: Case, actor: User, rating: str, explanation: str) -> Case:
    """Give the verdict (fact-checkers and admins); the case becomes 'rated'."""
    require_permission(actor, PERM_RATE)
    fields = _rating_fields(rating=rating, explanation=explanation)
    refusal = rating_refusal(case)
    if refusal:
        raise CaseError(refusal)
    old = case.status
    with transaction.atomic():
        _status_swap(case=case, expected=old, new=STATUS_RATED, **fields)
        case_record(
            case=case,
            actor=actor,
            kind="rate",
            data={"from": old, "rating": rating, "rating_value": fields["rating_value"]},
        )
    return case


def case_correct(*, case: Case, actor: User, rating: str, explanation: str, note: str) -> Case:
    """Correct a published fact-check in place and republish it: the rating and explanation
    change, the public page states `note`, ClaimReview keeps its datePublished and gets
    dateModified (`corrected_at`). Those who may publish may correct."""
    require_permission(actor, PERM_PUBLISH)
    require_permission(actor, PERM_RATE)
    if case.status != STATUS_PUBLISHED:
        raise CaseError("only a published fact-check can be corrected; rate this case instead")
    note = note.strip()
    if not note or len(note) > MAX_EXPLANATION_LENGTH:
        raise CaseError(f"say what was corrected (1 to {MAX_EXPLANATION_LENGTH} characters)")
    fields = _rating_fields(rating=rating, explanation=explanation)
    before = {"rating": case.rating, "explanation": case.explanation}
    with transaction.atomic():
        # Compare-and-set on the status: a case closed meanwhile is not corrected.
        _status_swap(
            case=case,
            expected=STATUS_PUBLISHED,
            new=STATUS_PUBLISHED,
            corrected_at=timezone.now(),
            correction_note=note,
            **fields,
        )
        case_record(
            case=case,
            actor=actor,
            kind="correct",
            data={
                "before": before,
                "after": {"rating": rating, "explanation": fields["explanation"]},
                "note": note,
            },
        )
    return case


def case_publish(*, case: Case, actor: User) -> Case:
    """Publish the rated verdict as a ClaimReview (fact-checkers and admins)."""
    require_permission(actor, PERM_PUBLISH)
    old = case.status
    if not case.rating:
        raise CaseError("rate the case before publishing it")
    if not can_transition(old, STATUS_PUBLISHED):
        raise CaseError(f"a {old!r} case cannot be published")
    # The slug stays the same across re-publication, so public links never break; so does the
    # first publication date (ClaimReview datePublished), the new one is its dateModified.
    slug = case.slug or f"{slugify(case.title)[:SLUG_TITLE_LENGTH].strip('-') or 'case'}-{case.pk}"
    now = timezone.now()
    dates: dict[str, Any] = (
        {"published_at": now}
        if case.published_at is None
        else {"corrected_at": now, "correction_note": ""}
    )
    with transaction.atomic():
        _status_swap(case=case, expected=old, new=STATUS_PUBLISHED, slug=slug, **dates)
        case_record(case=case, actor=actor, kind="publish", data={"from": old, "slug": slug})
    return case
