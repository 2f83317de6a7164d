"""Groups in the review queue: items with the same media (same content, so the same
content-addressed media row) or the same matched original (the current report's first match),
and one decision applied to a whole group.

A group decision decides each member exactly once, by the same compare-and-set as a single
decision (a member already decided, or leased by someone else, is skipped and reported), each
with its own Decision row, audit entry and `decision.made` event (moderation.review).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone

from accounts.models import User
from moderation.models import Decision, Report, ReviewItem
from moderation.report_document import FIRST_MATCH_REFERENCE_ID_PATH, matched_reference_ids
from moderation.review import (
    NOT_HELD,
    ReviewError,
    decision_record,
    decision_validated,
    require_reviewer,
)
from moderation.selectors import items_available, items_held_by, items_visible, report_current

MAX_GROUP_SIZE = 200  # members decided in one request; a bigger group is decided in turns


@dataclass(frozen=True)
class GroupKey:
    media_id: int
    reference_id: int | None  # the current report's first match, if any


@dataclass
class GroupOutcome:
    decided: list[Decision] = field(default_factory=list)
    skipped: list[tuple[ReviewItem, str]] = field(default_factory=list)


def group_key(item: ReviewItem) -> GroupKey:
    report = report_current(item.submission)
    matched = matched_reference_ids(report.document) if report is not None else []
    return GroupKey(media_id=item.submission.media_id, reference_id=_first(matched))


def _first(reference_ids: list[int]) -> int | None:
    return reference_ids[0] if reference_ids else None


def _same_original(reference_ids: Iterable[int]) -> QuerySet[Report]:
    return (
        Report.objects.filter(is_current=True)
        .alias(first_reference=KT(FIRST_MATCH_REFERENCE_ID_PATH))
        .filter(first_reference__in=[str(i) for i in reference_ids])
    )


def _members_q(keys: Iterable[GroupKey]) -> Q:
    keys = list(keys)
    found = Q(submission__media_id__in={key.media_id for key in keys})
    references = {key.reference_id for key in keys if key.reference_id is not None}
    if references:
        found |= Q(submission_id__in=_same_original(references).values("submission_id"))
    return found


def item_group(*, item: ReviewItem, user: User) -> QuerySet[ReviewItem]:
    """The undecided items the user may see that share the item's media or matched original
    (the item included), best first."""
    return (
        items_visible(user=user)
        .filter(_members_q([group_key(item)]))
        .exclude(status=ReviewItem.Status.DECIDED)
        .order_by("-priority", "created_at", "id")
    )


def group_sizes(*, items: list[ReviewItem], user: User) -> dict[int, int]:
    """For each given item, how many undecided visible items share its media or matched
    original (itself included); two queries for a page of items."""
    if not items:
        return {}
    reports = Report.objects.filter(
        is_current=True, submission_id__in=[item.submission_id for item in items]
    ).only("submission_id", "document")
    first_reference = {
        report.submission_id: _first(matched_reference_ids(report.document)) for report in reports
    }
    keys = {
        item.pk: GroupKey(item.submission.media_id, first_reference.get(item.submission_id))
        for item in items
    }
    candidates = (
        items_visible(user=user)
        .filter(_members_q(keys.values()))
        .exclude(status=ReviewItem.Status.DECIDED)
        .values_list("pk", "submission__media_id", "submission_id")
    )
    rows = list(candidates)
    by_media: dict[int, set[int]] = defaultdict(set)
    for pk, media_id, _ in rows:
        by_media[media_id].add(pk)
    references = {key.reference_id for key in keys.values() if key.reference_id is not None}
    by_reference: dict[int, set[int]] = defaultdict(set)
    if references:
        submission_items = {submission_id: pk for pk, _, submission_id in rows}
        for submission_id, reference in (
            _same_original(references)
            .annotate(first=KT(FIRST_MATCH_REFERENCE_ID_PATH))
            .values_list("submission_id", "first")
        ):
            if submission_id in submission_items:
                by_reference[int(reference)].add(submission_items[submission_id])
    sizes = {}
    for pk, key in keys.items():
        members = set(by_media[key.media_id])
        if key.reference_id is not None:
            members |= by_reference[key.reference_id]
        sizes[pk] = len(members | {pk})
    return sizes


def group_decision_make(
    *,
    item: ReviewItem,
    user: User,
    action: str,
    label: str = "",
    rationale: str = "",
    canned: str = "",
    now: dt.datetime | None = None,
) -> GroupOutcome:
    """Apply one decision to the item (which the user must hold) and every other member of its
    group that is waiting or held by the user; each member is decided once, the rest skipped
    with the reason."""
    require_reviewer(user)
    action, label, rationale = decision_validated(action, label, rationale, canned)
    now = now or timezone.now()
    members = list(item_group(item=item, user=user).select_related("submission")[:MAX_GROUP_SIZE])
    outcome = GroupOutcome()
    with transaction.atomic():
        if not ReviewItem.objects.filter(pk=item.pk).filter(items_held_by(user, now)).exists():
            raise ReviewError(NOT_HELD)
        for member in [item, *(m for m in members if m.pk != item.pk)]:
            held = ReviewItem.objects.filter(pk=member.pk).filter(items_held_by(user, now))
            status_before = (
                ReviewItem.Status.CLAIMED if held.exists() else ReviewItem.Status.PENDING
            )
            decided = (
                ReviewItem.objects.filter(pk=member.pk)
                .filter(items_available(now) | items_held_by(user, now))
                .update(status=ReviewItem.Status.DECIDED, claimed_by=user, lease_expires_at=None)
            )
            if decided != 1 and member.pk == item.pk:  # the lead's lease ran out meanwhile
                raise ReviewError(NOT_HELD)
            if decided != 1:
                member.refresh_from_db()
                reason = (
                    "decided already"
                    if member.status == ReviewItem.Status.DECIDED
                    else "being reviewed by someone else"
                )
                outcome.skipped.append((member, reason))
                continue
            member.refresh_from_db()
            outcome.decided.append(
                decision_record(
                    item=member,
                    user=user,
                    action=action,
                    label=label,
                    rationale=rationale,
                    status_before=status_before,
                    group_of=item.pk if member.pk != item.pk else None,
                )
            )
    return outcome
