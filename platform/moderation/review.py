"""The review queue's writes: claim, next, release, decide (reads: moderation.selectors).

An item is *available* when it is pending, or claimed with a lease that has run out: an expired
lease returns the item to the queue without any background job (no housekeeping task is needed).
Every state change is one compare-and-set UPDATE, so two moderators never hold the same item and
an item is decided once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import role_needed
from accounts.services import audit_record
from moderation.escalation import submission_escalate
from moderation.events import DECISION_MADE, DECISION_UNDONE, event_emit
from moderation.models import Decision, ReviewItem
from moderation.selectors import (
    REVIEW_PERMISSION,
    SATIRE_RATIONALE,
    QueueFilters,
    items_available,
    items_held_by,
    items_visible,
    report_current,
    review_queue,
)

MAX_RATIONALE_LENGTH = 5000
# Remove and escalate act on someone's content or start work for others: say why.
RATIONALE_REQUIRED = (Decision.Action.REMOVE, Decision.Action.ESCALATE)
# The decision form offers these per action (chosen, they become the rationale).
CANNED_RATIONALES: dict[str, tuple[str, ...]] = {
    Decision.Action.ALLOW: (
        "No sign of manipulation; the content may stay.",
        "Same as the verified original; nothing was changed.",
        SATIRE_RATIONALE,
    ),
    Decision.Action.LABEL: (
        "Edited copy of a known original: readers should know.",
        "Real picture shown out of context (another time or place).",
        "Synthetic or AI-generated picture presented as real.",
    ),
    Decision.Action.REMOVE: (
        "Known hoax picture, debunked by a published fact-check.",
        "Manipulated picture presented as real news.",
        "Doctored picture targeting a private person.",
    ),
    Decision.Action.ESCALATE: (
        "Claim about a real event; the picture's origin is unclear.",
        "The match and the detectors disagree; needs a closer look.",
        "Possibly newsworthy: a fact-check should be published.",
    ),
}
# A decision can be undone by its moderator for this long; the page shows the time left. The
# decision.made event goes out at once and an undo sends decision.undone (simpler than holding
# events back, and correct: receivers see both, in order).
DECISION_UNDO_SECONDS = 30
# An item assigned to someone stays theirs for a working day (a claim lasts minutes: the
# assignee may not be looking at the queue right now).
ASSIGNMENT_LEASE_SECONDS = 8 * 3600


class ReviewError(Exception):
    """A review action cannot be done as asked; the message says why (shown to the user)."""


class ReviewPermissionDenied(ReviewError):
    """The user lacks the right to review (views that do not show it as a message answer 403)."""


def lease_seconds() -> int:
    """How long a claim lasts (settings.REVIEW_LEASE_SECONDS: the default lives there)."""
    return int(settings.REVIEW_LEASE_SECONDS)


def review_labels() -> tuple[str, ...]:
    """The labels a moderator may apply (settings.REVIEW_LABELS)."""
    return tuple(settings.REVIEW_LABELS)


def require_reviewer(user: User) -> None:
    """The check behind every review write (claim, next, decide, near-miss judgements)."""
    if not user.has_perm(REVIEW_PERMISSION):
        raise ReviewPermissionDenied(
            role_needed("Reviewing submissions", permissions=[REVIEW_PERMISSION])
        )


def _claimable(*, item: ReviewItem, user: User) -> bool:
    return items_visible(user=user).filter(pk=item.pk).exists()


# Deciding needs the item's lease; the one refusal when it is not (or no longer) held.
NOT_HELD = "Claim this item before deciding; your lease may have expired."


def _lease(
    item: ReviewItem, *, user: User, holder: User, until: dt.datetime, now: dt.datetime
) -> None:
    """Compare-and-set: lease the item to `holder` until `until` if it is free or `user` holds
    it; `item` is refreshed."""
    leased = (
        ReviewItem.objects.filter(pk=item.pk)
        .filter(items_available(now) | items_held_by(user, now))
        .update(status=ReviewItem.Status.CLAIMED, claimed_by=holder, lease_expires_at=until)
    )
    if leased != 1:
        raise ReviewError("Someone else is reviewing this item, or it has been decided.")
    item.refresh_from_db()


@transaction.atomic
def item_claim(*, item: ReviewItem, user: User, now: dt.datetime | None = None) -> ReviewItem:
    """Lease the item to the user; claiming an item you already hold renews the lease."""
    require_reviewer(user)
    if not _claimable(item=item, user=user):
        raise ReviewError("This item is not in your queue.")
    now = now or timezone.now()
    expires = now + dt.timedelta(seconds=lease_seconds())
    _lease(item, user=user, holder=user, until=expires, now=now)
    audit_record(
        actor=user, action="review_item.claim", target=item, data={"until": expires.isoformat()}
    )
    return item


def item_next(
    *,
    user: User,
    filters: QueueFilters | None = None,
    exclude: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> ReviewItem | None:
    """Claim the highest-priority available item, skipping `exclude` (e.g. the item just
    passed over); None when nothing else is waiting."""
    require_reviewer(user)
    now = now or timezone.now()
    filters = QueueFilters(**{**(filters or QueueFilters()).__dict__, "mine": False})
    with transaction.atomic():
        # SKIP LOCKED: concurrent "next" calls walk past each other's rows instead of queueing
        # behind them; the CAS in item_claim remains the guarantee.
        candidate_ids = (
            review_queue(user=user, filters=filters, now=now)
            .filter(items_available(now))
            .exclude(pk__in=list(exclude))
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:1]
        )
        candidate = ReviewItem.objects.filter(pk__in=list(candidate_ids)).first()
        if candidate is None:
            return None
        return item_claim(item=candidate, user=user, now=now)


@transaction.atomic
def item_release(*, item: ReviewItem, user: User) -> bool:
    """Give back an item you hold; False when you did not hold it."""
    released = ReviewItem.objects.filter(
        pk=item.pk, status=ReviewItem.Status.CLAIMED, claimed_by=user
    ).update(status=ReviewItem.Status.PENDING, claimed_by=None, lease_expires_at=None)
    if released:
        audit_record(actor=user, action="review_item.release", target=item)
    return released == 1


def decision_validated(
    action: str, label: str, rationale: str, canned: str = ""
) -> tuple[str, str, str]:
    """The action, label and rationale as stored, or ReviewError saying what is wrong. A canned
    rationale (one of CANNED_RATIONALES[action]) is the rationale when none was typed."""
    if action not in Decision.Action.values:
        raise ReviewError(f"Unknown action {action!r}.")
    label, rationale, canned = label.strip(), rationale.strip(), canned.strip()
    if canned and canned not in CANNED_RATIONALES[action]:
        raise ReviewError("Choose a rationale from the list for this action.")
    rationale = rationale or canned
    if action == Decision.Action.LABEL:
        if label not in review_labels():
            raise ReviewError("Choose a label from the list.")
    else:
        label = ""
    if action in RATIONALE_REQUIRED and not rationale:
        raise ReviewError(f"A rationale is required to {action}.")
    if len(rationale) > MAX_RATIONALE_LENGTH:
        raise ReviewError(f"The rationale is limited to {MAX_RATIONALE_LENGTH} characters.")
    return action, label, rationale


@transaction.atomic
def decision_make(
    *,
    item: ReviewItem,
    user: User,
    action: str,
    label: str = "",
    rationale: str = "",
    canned: str = "",
    now: dt.datetime | None = None,
) -> Decision:
    """Decide on an item you hold: one Decision row, an audit entry and a decision.made event,
    all in one transaction (the event is announced only if it commits)."""
    require_reviewer(user)
    action, label, rationale = decision_validated(action, label, rationale, canned)
    now = now or timezone.now()
    decided = (
        ReviewItem.objects.filter(pk=item.pk)
        .filter(items_held_by(user, now))
        .update(status=ReviewItem.Status.DECIDED, lease_expires_at=None)
    )
    if decided != 1:
        raise ReviewError(NOT_HELD)
    item.refresh_from_db()
    return decision_record(
        item=item,
        user=user,
        action=action,
        label=label,
        rationale=rationale,
        status_before=ReviewItem.Status.CLAIMED,
    )


def decision_record(
    *,
    item: ReviewItem,
    user: User,
    action: str,
    label: str,
    rationale: str,
    status_before: str,
    group_of: int | None = None,
) -> Decision:
    """What follows the compare-and-set that decided an item (call it in that transaction):
    the Decision row, its audit entry, the decision.made event and, for escalate, the case.
    `group_of` is the item whose group decision this one was part of."""
    submission = item.submission
    decision = Decision.objects.create(
        item=item,
        moderator=user,
        action=action,
        label=label,
        rationale=rationale,
        report=report_current(submission),
        status_before=status_before,
    )
    audit_data: dict[str, object] = {"item": item.pk, "submission": submission.pk, "label": label}
    if group_of is not None:
        audit_data["group_of"] = group_of
    audit_record(actor=user, action=f"decision.{action}", target=decision, data=audit_data)
    event_emit(
        type=DECISION_MADE,
        submission=submission,
        data={
            "submission_id": submission.pk,
            "external_id": submission.external_id,
            "action": action,
            "label": label,
            "rationale": rationale,
            "decided_at": decision.created_at.isoformat(),
        },
    )
    if action == Decision.Action.ESCALATE:
        escalation_open(decision=decision)
    return decision


def escalation_open(*, decision: Decision) -> None:
    """Hand an escalated item over to fact-checkers.

    Runs inside the decision's transaction: the case (or, when the submission already sits in
    an open case, a comment on it) exists exactly when the decision does.
    """
    audit_record(
        actor=decision.moderator,
        action="review_item.escalate",
        target=decision.item,
        data={"decision": decision.pk, "rationale": decision.rationale},
    )
    submission_escalate(
        submission=decision.item.submission,
        actor=decision.moderator,
        rationale=decision.rationale,
    )


class _Undo(NamedTuple):
    status: str
    claimed_by: User | None
    lease_expires_at: dt.datetime | None


@transaction.atomic
def decision_undo(*, decision_id: int, user: User, now: dt.datetime | None = None) -> Decision:
    """Undo your own decision within DECISION_UNDO_SECONDS: the item goes back to how it was
    (held by you with a fresh lease, or waiting), the decision is kept marked undone, audited
    as decision.undo, and a decision.undone event follows the decision.made one."""
    require_reviewer(user)
    now = now or timezone.now()
    decision = (
        Decision.objects.select_related("item__submission")
        .filter(pk=decision_id, moderator=user)
        .first()
    )
    if decision is None:
        raise ReviewError("No such decision of yours.")
    if decision.undone_at is not None:
        raise ReviewError("This decision was undone already.")
    if now - decision.created_at > dt.timedelta(seconds=DECISION_UNDO_SECONDS):
        raise ReviewError(f"A decision can be undone within {DECISION_UNDO_SECONDS} seconds only.")
    if decision.action == Decision.Action.ESCALATE:
        raise ReviewError("An escalation opened a fact-check case: ask the fact-checkers instead.")
    item = decision.item
    latest = item.decisions.order_by("-created_at", "-id").values_list("pk", flat=True).first()
    if latest != decision.pk:
        raise ReviewError("The item was decided again since; this decision cannot be undone.")
    before = (
        _Undo(ReviewItem.Status.CLAIMED, user, now + dt.timedelta(seconds=lease_seconds()))
        if decision.status_before == ReviewItem.Status.CLAIMED
        else _Undo(ReviewItem.Status.PENDING, None, None)
    )
    if Decision.objects.filter(pk=decision.pk, undone_at__isnull=True).update(undone_at=now) != 1:
        raise ReviewError("This decision was undone already.")
    restored = ReviewItem.objects.filter(pk=item.pk, status=ReviewItem.Status.DECIDED).update(
        status=before.status, claimed_by=before.claimed_by, lease_expires_at=before.lease_expires_at
    )
    if restored != 1:
        raise ReviewError("The item has changed since; this decision cannot be undone.")
    decision.refresh_from_db()
    submission = item.submission
    audit_record(
        actor=user,
        action="decision.undo",
        target=decision,
        data={"item": item.pk, "submission": submission.pk, "restored": before.status},
    )
    event_emit(
        type=DECISION_UNDONE,
        submission=submission,
        data={
            "submission_id": submission.pk,
            "external_id": submission.external_id,
            "action": decision.action,
            "label": decision.label,
            "decided_at": decision.created_at.isoformat(),
            "undone_at": now.isoformat(),
        },
    )
    return decision


def item_assign(
    *, item: ReviewItem, user: User, assignee: User, now: dt.datetime | None = None
) -> ReviewItem:
    """Give an item you hold, or one that is waiting, to another reviewer who can see it; it
    stays theirs for ASSIGNMENT_LEASE_SECONDS. Audited as review_item.assign."""
    require_reviewer(user)
    if not _claimable(item=item, user=user):
        raise ReviewError("This item is not in your queue.")
    if assignee.pk == user.pk:
        raise ReviewError("To take the item yourself, claim it.")
    if not assignee.is_active or not assignee.has_perm(REVIEW_PERMISSION):
        raise ReviewError(f"{assignee.get_username()} cannot review items.")
    if not items_visible(user=assignee).filter(pk=item.pk).exists():
        raise ReviewError(f"{assignee.get_username()} cannot see this item.")
    now = now or timezone.now()
    until = now + dt.timedelta(seconds=ASSIGNMENT_LEASE_SECONDS)
    with transaction.atomic():
        _lease(item, user=user, holder=assignee, until=until, now=now)
        audit_record(
            actor=user,
            action="review_item.assign",
            target=item,
            data={"to": assignee.get_username(), "until": until.isoformat()},
        )
    return item
