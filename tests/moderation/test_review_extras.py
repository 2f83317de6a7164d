"""Canned rationales, undo within its window, assigning an item, the SLA deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import AuditLog, User
from accounts.roles import MODERATOR
from moderation.events import DECISION_MADE, DECISION_UNDONE
from moderation.models import Decision, Event, ReviewItem
from moderation.review import (
    ASSIGNMENT_LEASE_SECONDS,
    CANNED_RATIONALES,
    DECISION_UNDO_SECONDS,
    ReviewError,
    decision_make,
    decision_undo,
    item_assign,
    item_claim,
)
from moderation.review_groups import group_decision_make
from moderation.selectors import assignees_for, decisions_by, sla_deadline
from tests.moderation.review_factory import review_item_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_moderator(personas) -> User:
    user = User.objects.create_user(username="moderator2", password="correct horse battery")
    user.groups.add(Group.objects.get(name=MODERATOR))
    return user


def test_every_action_has_canned_rationales() -> None:
    assert set(CANNED_RATIONALES) == set(Decision.Action.values)
    assert all(len(texts) >= 2 for texts in CANNED_RATIONALES.values())


def test_a_canned_rationale_is_the_rationale_when_none_is_typed(personas) -> None:
    moderator = personas["moderator"]
    item = review_item_create()
    item_claim(item=item, user=moderator)
    text = CANNED_RATIONALES["remove"][0]
    with pytest.raises(ReviewError, match="from the list"):
        decision_make(item=item, user=moderator, action="remove", canned="Because I said so.")
    with pytest.raises(ReviewError, match="from the list"):  # another action's text
        decision_make(
            item=item, user=moderator, action="remove", canned=CANNED_RATIONALES["allow"][0]
        )
    decision = decision_make(item=item, user=moderator, action="remove", canned=text)
    assert decision.rationale == text
    typed = review_item_create(seed=2)
    item_claim(item=typed, user=moderator)
    mine = decision_make(
        item=typed, user=moderator, action="remove", rationale="My words.", canned=text
    )
    assert mine.rationale == "My words."


def test_undo_restores_the_item_and_announces_it(personas) -> None:
    moderator = personas["moderator"]
    item = review_item_create()
    item_claim(item=item, user=moderator)
    decision = decision_make(item=item, user=moderator, action="label", label="misleading")
    undone = decision_undo(decision_id=decision.pk, user=moderator)
    assert undone.undone_at is not None
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.CLAIMED and item.claimed_by == moderator
    assert item.lease_expires_at is not None and item.lease_expires_at > timezone.now()
    assert Decision.objects.filter(pk=decision.pk).exists()  # kept, marked undone
    assert AuditLog.objects.filter(action="decision.undo", target_id=str(decision.pk)).count() == 1
    types = list(Event.objects.filter(submission=item.submission).values_list("type", flat=True))
    assert types == [DECISION_MADE, DECISION_UNDONE]
    payload = Event.objects.get(type=DECISION_UNDONE).payload
    assert payload["action"] == "label" and payload["submission_id"] == item.submission_id
    with pytest.raises(ReviewError, match="undone already"):
        decision_undo(decision_id=decision.pk, user=moderator)
    # The item can be decided again.
    decision_make(item=item, user=moderator, action="allow")
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewItem.Status.DECIDED


def test_undo_has_a_time_limit_and_an_owner(personas, second_moderator) -> None:
    moderator = personas["moderator"]
    item = review_item_create()
    item_claim(item=item, user=moderator)
    decision = decision_make(item=item, user=moderator, action="allow")
    with pytest.raises(ReviewError, match="No such decision of yours"):
        decision_undo(decision_id=decision.pk, user=second_moderator)
    with pytest.raises(ReviewError, match="No such decision of yours"):
        decision_undo(decision_id=10**12, user=moderator)
    late = decision.created_at + dt.timedelta(seconds=DECISION_UNDO_SECONDS + 1)
    with pytest.raises(ReviewError, match=f"within {DECISION_UNDO_SECONDS} seconds"):
        decision_undo(decision_id=decision.pk, user=moderator, now=late)
    on_time = decision.created_at + dt.timedelta(seconds=DECISION_UNDO_SECONDS)
    decision_undo(decision_id=decision.pk, user=moderator, now=on_time)
    assert Event.objects.filter(type=DECISION_UNDONE).count() == 1


def test_escalations_are_not_undone_here(personas) -> None:
    moderator = personas["moderator"]
    item = review_item_create()
    item_claim(item=item, user=moderator)
    decision = decision_make(item=item, user=moderator, action="escalate", rationale="Check it.")
    with pytest.raises(ReviewError, match="fact-check case"):
        decision_undo(decision_id=decision.pk, user=moderator)
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewItem.Status.DECIDED


def test_undoing_a_group_member_puts_it_back_in_the_queue(personas) -> None:
    moderator = personas["moderator"]
    lead = review_item_create(seed=1, priority=5)
    copy = review_item_create(seed=1, priority=1)
    item_claim(item=lead, user=moderator)
    outcome = group_decision_make(item=lead, user=moderator, action="allow")
    by_item = {decision.item_id: decision for decision in outcome.decided}
    decision_undo(decision_id=by_item[copy.pk].pk, user=moderator)
    copy.refresh_from_db()
    assert (copy.status, copy.claimed_by) == (ReviewItem.Status.PENDING, None)
    decision_undo(decision_id=by_item[lead.pk].pk, user=moderator)
    assert ReviewItem.objects.get(pk=lead.pk).claimed_by == moderator


def test_an_item_is_assigned_to_another_reviewer(personas, second_moderator) -> None:
    moderator = personas["moderator"]
    item = review_item_create()
    item_claim(item=item, user=moderator)
    assert second_moderator in assignees_for(item=item, user=moderator)
    assert personas["outsider"] not in assignees_for(item=item, user=moderator)
    assert moderator not in assignees_for(item=item, user=moderator)
    assigned = item_assign(item=item, user=moderator, assignee=second_moderator)
    assert assigned.claimed_by == second_moderator
    assert assigned.lease_expires_at is not None
    assert assigned.lease_expires_at > timezone.now() + dt.timedelta(
        seconds=ASSIGNMENT_LEASE_SECONDS - 60
    )
    entry = AuditLog.objects.get(action="review_item.assign")
    assert (entry.actor, entry.data["to"]) == (moderator, "moderator2")
    # Now it is someone else's: the former holder cannot take it back or pass it on.
    with pytest.raises(ReviewError, match="Someone else"):
        item_assign(item=item, user=moderator, assignee=personas["admin"])


def test_assigning_is_refused_to_people_who_cannot_review_or_see_it(
    personas, second_moderator, api_client_credentials
) -> None:
    moderator = personas["moderator"]
    item = review_item_create()
    for person, reason in [
        (personas["outsider"], "cannot review"),
        (personas["fact_checker"], "cannot review"),
        (moderator, "claim it"),
    ]:
        with pytest.raises(ReviewError, match=reason):
            item_assign(item=item, user=moderator, assignee=person)
    second_moderator.groups.add(
        Group.objects.create(name=f"client:{api_client_credentials.client.slug}")
    )
    with pytest.raises(ReviewError, match="cannot see this item"):
        item_assign(item=item, user=moderator, assignee=second_moderator)
    assert second_moderator not in assignees_for(item=item, user=moderator)
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewItem.Status.PENDING


def test_sla_deadline_and_my_decisions(personas, settings) -> None:
    settings.REVIEW_SLA_HOURS = 6
    received = timezone.now()
    assert sla_deadline(received) == received + dt.timedelta(hours=6)
    moderator = personas["moderator"]
    first, second = review_item_create(seed=1), review_item_create(seed=2)
    for item in (first, second):
        item_claim(item=item, user=moderator)
        decision_make(item=item, user=moderator, action="allow")
    assert [d.item_id for d in decisions_by(user=moderator)] == [second.pk, first.pk]
    assert list(decisions_by(user=personas["admin"])) == []
