"""The review queue: selectors for what a moderator may see, and the claim/decide services.

An item is *available* when it is pending, or claimed with a lease that has run out: an expired
lease returns the item to the queue without any background job. Every state change is one
compare-and-set UPDATE, so two moderators never hold the same item and an item is decided once.

Clients can be kept apart: a user in one or more groups named `client:<slug>` sees only the items
of those API clients (staff uploads included only for unscoped users).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import CharField, Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import AuditLog, User
from accounts.services import audit_record
from moderation.escalation import submission_escalate
from moderation.events import DECISION_MADE, event_emit
from moderation.models import Decision, NearMissJudgement, Report, ReviewItem
from moderation.selectors import VIEW_ALL_PERMISSION, report_current

REVIEW_PERMISSION = "moderation.review_submission"
CLIENT_SCOPE_GROUP_PREFIX = "client:"
DEFAULT_LEASE_SECONDS = 600
DEFAULT_LABELS = ("misleading", "missing context", "altered image", "satire", "synthetic media")
MAX_RATIONALE_LENGTH = 5000
PLATFORMS_CACHE_SECONDS = 120
# Remove and escalate act on someone's content or start work for others: say why.
RATIONALE_REQUIRED = (Decision.Action.REMOVE, Decision.Action.ESCALATE)


class ReviewError(Exception):
    """A review action cannot be done as asked; the message says why (shown to the user)."""


class ReviewPermissionDenied(ReviewError):
    """The user lacks the right to review (views that do not show it as a message answer 403)."""


@dataclass(frozen=True)
class QueueFilters:
    label: str = ""  # verdict label of the current report
    platform: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    mine: bool = False  # only items I hold a live lease on


def lease_seconds() -> int:
    return int(getattr(settings, "REVIEW_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def review_labels() -> tuple[str, ...]:
    return tuple(getattr(settings, "REVIEW_LABELS", DEFAULT_LABELS))


# ---- selectors ---------------------------------------------------------------------------------


def client_scopes(user: User) -> list[str]:
    """Slugs of the clients a user is limited to; empty means every client."""
    cached = getattr(user, "_review_client_scopes", None)
    if cached is None:  # asked several times per page: once per request object is enough
        names = user.groups.filter(name__startswith=CLIENT_SCOPE_GROUP_PREFIX).values_list(
            "name", flat=True
        )
        cached = [name[len(CLIENT_SCOPE_GROUP_PREFIX) :] for name in names]
        user._review_client_scopes = cached
    return list(cached)


def items_visible(*, user: User) -> QuerySet[ReviewItem]:
    """Every review item the user may look at (any status)."""
    if not user.has_perm(VIEW_ALL_PERMISSION):
        return ReviewItem.objects.none()
    scopes = client_scopes(user)
    if scopes:
        return ReviewItem.objects.filter(submission__client__slug__in=scopes)
    return ReviewItem.objects.all()


def with_verdict(items: QuerySet[ReviewItem]) -> QuerySet[ReviewItem]:
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


def _available(now: dt.datetime) -> Q:
    return Q(status=ReviewItem.Status.PENDING) | Q(
        status=ReviewItem.Status.CLAIMED, lease_expires_at__lt=now
    )


def _held_by(user: User, now: dt.datetime) -> Q:
    return Q(status=ReviewItem.Status.CLAIMED, claimed_by=user, lease_expires_at__gte=now)


def review_queue(
    *, user: User, filters: QueueFilters | None = None, now: dt.datetime | None = None
) -> QuerySet[ReviewItem]:
    """Items waiting for a decision (pending, expired leases, and my own live claims), best first.

    With `filters.mine` only the items I hold; ordering is priority, then age (oldest first).
    Plain rows (no joins unless a filter needs one): page it, then load the page with
    `queue_page`.
    """
    now = now or timezone.now()
    filters = filters or QueueFilters()
    items = items_visible(user=user)
    waiting = _held_by(user, now) if filters.mine else _available(now) | _held_by(user, now)
    items = items.filter(waiting)
    if filters.label:
        items = items.filter(_current_label(filters.label))
    if filters.platform:
        items = items.filter(submission__platform=filters.platform)
    if filters.date_from:
        items = items.filter(submission__created_at__date__gte=filters.date_from)
    if filters.date_to:
        items = items.filter(submission__created_at__date__lte=filters.date_to)
    return items.order_by("-priority", "created_at", "id")


def queue_page(item_ids: list[int]) -> list[ReviewItem]:
    """The items of one queue page, in the given order, with submission, client and verdict."""
    loaded = with_verdict(
        ReviewItem.objects.filter(pk__in=item_ids).select_related(
            "submission", "submission__client", "claimed_by"
        )
    ).in_bulk()
    return [loaded[pk] for pk in item_ids if pk in loaded]


def queue_counts(*, user: User, now: dt.datetime | None = None) -> dict[str, Any]:
    """Waiting items per verdict label, all waiting items, and the ones I hold."""
    now = now or timezone.now()
    visible = items_visible(user=user)
    waiting = visible.filter(_available(now) | _held_by(user, now))
    by_label = dict(
        Report.objects.filter(is_current=True, submission_id__in=waiting.values("submission_id"))
        .order_by()
        .values_list("label")
        .annotate(count=Count("id"))
    )
    return {
        "waiting": waiting.count(),
        "mine": visible.filter(_held_by(user, now)).count(),
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

    return cache.get_or_set(key, platforms, PLATFORMS_CACHE_SECONDS)


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


# ---- services ----------------------------------------------------------------------------------


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
        .filter(_available(now) | _held_by(user, now))
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
            .filter(_available(now))
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


def leases_expire(*, now: dt.datetime | None = None) -> int:
    """Return every item whose lease has run out to pending (housekeeping; the queue already
    treats them as available). Returns how many were released."""
    now = now or timezone.now()
    return ReviewItem.objects.filter(
        status=ReviewItem.Status.CLAIMED, lease_expires_at__lt=now
    ).update(status=ReviewItem.Status.PENDING, claimed_by=None, lease_expires_at=None)


def _validated(action: str, label: str, rationale: str) -> tuple[str, str, str]:
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
    action, label, rationale = _validated(action, label, rationale)
    now = now or timezone.now()
    decided = (
        ReviewItem.objects.filter(pk=item.pk)
        .filter(_held_by(user, now))
        .update(status=ReviewItem.Status.DECIDED, lease_expires_at=None)
    )
    if decided != 1:
        raise ReviewError("Claim this item before deciding; your lease may have expired.")
    item.refresh_from_db()
    submission = item.submission
    decision = Decision.objects.create(
        item=item,
        moderator=user,
        action=action,
        label=label,
        rationale=rationale,
        report=report_current(submission),
    )
    audit_record(
        actor=user,
        action=f"decision.{action}",
        target=decision,
        data={"item": item.pk, "submission": submission.pk, "label": label},
    )
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
