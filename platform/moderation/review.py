"""The review queue's writes: claim, next, release, decide (reads: moderation.selectors).

An item is *available* when it is pending, or claimed with a lease that has run out: an expired
lease returns the item to the queue without any background job (no housekeeping task is needed).
Every state change is one compare-and-set UPDATE, so two moderators never hold the same item and
an item is decided once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from moderation.escalation import submission_escalate
from moderation.events import DECISION_MADE, event_emit
from moderation.models import Decision, ReviewItem
from moderation.selectors import (
    QueueFilters,
    items_available,
    items_held_by,
    items_visible,
    report_current,
    review_queue,
)

REVIEW_PERMISSION = "moderation.review_submission"
MAX_RATIONALE_LENGTH = 5000
# Remove and escalate act on someone's content or start work for others: say why.
RATIONALE_REQUIRED = (Decision.Action.REMOVE, Decision.Action.ESCALATE)


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
        raise ReviewPermissionDenied("You do not have permission to review submissions.")


def _claimable(*, item: ReviewItem, user: User) -> bool:
    return items_visible(user=user).filter(pk=item.pk).exists()


@transaction.atomic
def item_claim(*, item: ReviewItem, user: User, now: dt.datetime | None = None) -> ReviewItem:
    """Lease the item to the user; claiming an item you already hold renews the lease."""
    require_reviewer(user)
    if not _claimable(item=item, user=user):
        raise ReviewError("This item is not in your queue.")
    now = now or timezone.now()
    expires = now + dt.timedelta(seconds=lease_seconds())
    claimed = (
        ReviewItem.objects.filter(pk=item.pk)
        .filter(items_available(now) | items_held_by(user, now))
        .update(status=ReviewItem.Status.CLAIMED, claimed_by=user, lease_expires_at=expires)
    )
    if claimed != 1:
        raise ReviewError("Someone else is reviewing this item, or it has been decided.")
    item.refresh_from_db()
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


def decision_validated(action: str, label: str, rationale: str) -> tuple[str, str, str]:
    """The action, label and rationale as stored, or ReviewError saying what is wrong."""
    if action not in Decision.Action.values:
        raise ReviewError(f"Unknown action {action!r}.")
    label, rationale = label.strip(), rationale.strip()
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
    now: dt.datetime | None = None,
) -> Decision:
    """Decide on an item you hold: one Decision row, an audit entry and a decision.made event,
    all in one transaction (the event is announced only if it commits)."""
    require_reviewer(user)
    action, label, rationale = decision_validated(action, label, rationale)
    now = now or timezone.now()
    decided = (
        ReviewItem.objects.filter(pk=item.pk)
        .filter(items_held_by(user, now))
        .update(status=ReviewItem.Status.DECIDED, lease_expires_at=None)
    )
    if decided != 1:
        raise ReviewError("Claim this item before deciding; your lease may have expired.")
    item.refresh_from_db()
    return decision_record(item=item, user=user, action=action, label=label, rationale=rationale)


def decision_record(
    *,
    item: ReviewItem,
    user: User,
    action: str,
    label: str,
    rationale: str,
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
