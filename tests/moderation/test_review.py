"""Review services: claim by lease (compare-and-set), next item, release, decisions and events."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuditLog, User
from accounts.roles import MODERATOR
from moderation import events
from moderation.models import Decision, Event, ReviewItem
from moderation.review import (
    MAX_RATIONALE_LENGTH,
    ReviewError,
    decision_make,
    item_claim,
    item_next,
    item_release,
)
from moderation.selectors import QueueFilters, item_history, queue_counts, review_queue
from tests.moderation.review_factory import report_version_add, review_item_create

LEASE = 600


@pytest.fixture(autouse=True)
def _lease(settings):
    settings.REVIEW_LEASE_SECONDS = LEASE
    settings.REVIEW_LABELS = ["misleading", "satire"]


@pytest.fixture
def second_moderator(personas) -> User:
    user = User.objects.create_user(username="moderator2", password="correct horse battery")
    user.groups.add(Group.objects.get(name=MODERATOR))
    return user


@pytest.mark.django_db
def test_claim_leases_the_item_to_one_moderator(personas, second_moderator) -> None:
    item = review_item_create()
    claimed = item_claim(item=item, user=personas["moderator"])
    assert claimed.status == ReviewItem.Status.CLAIMED
    assert claimed.claimed_by == personas["moderator"]
    assert claimed.lease_expires_at is not None
    assert claimed.lease_expires_at > timezone.now() + dt.timedelta(seconds=LEASE - 5)
    with pytest.raises(ReviewError, match="Someone else"):
        item_claim(item=item, user=second_moderator)
    assert AuditLog.objects.filter(action="review_item.claim", target_id=str(item.pk)).count() == 1


@pytest.mark.django_db
def test_lease_expiry_returns_the_item_at_the_boundary(personas, second_moderator) -> None:
    item = review_item_create()
    start = timezone.now()
    item_claim(item=item, user=personas["moderator"], now=start)
    expires = start + dt.timedelta(seconds=LEASE)
    # Still held at the exact expiry instant; free one microsecond later.
    with pytest.raises(ReviewError):
        item_claim(item=item, user=second_moderator, now=expires)
    assert list(review_queue(user=second_moderator, now=expires)) == []
    later = expires + dt.timedelta(microseconds=1)
    assert list(review_queue(user=second_moderator, now=later)) == [item]
    item_claim(item=item, user=second_moderator, now=later)
    # The first moderator lost the lease and can no longer decide.
    with pytest.raises(ReviewError, match="Claim this item"):
        decision_make(item=item, user=personas["moderator"], action="allow", now=later)


def _race_claim(item: ReviewItem, users: list[User]) -> dict[str, str]:
    """Both users claim the item at the same moment, each on its own connection."""
    barrier = threading.Barrier(len(users))
    outcomes: dict[str, str] = {}

    def claim(user: User) -> None:
        try:
            barrier.wait()
            item_claim(item=ReviewItem.objects.get(pk=item.pk), user=user)
            outcomes[user.username] = "won"
        except ReviewError:
            outcomes[user.username] = "lost"
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_moderators_racing_for_one_item_never_both_get_it(personas, second_moderator) -> None:
    for attempt in range(5):
        item = review_item_create(seed=attempt)
        outcomes = _race_claim(item, [personas["moderator"], second_moderator])
        assert sorted(outcomes.values()) == ["lost", "won"]
        item.refresh_from_db()
        assert item.claimed_by is not None
        assert item.claimed_by.username == next(k for k, v in outcomes.items() if v == "won")


@pytest.mark.django_db(transaction=True)
def test_concurrent_next_item_hands_out_different_items(personas, second_moderator) -> None:
    items = [review_item_create(seed=seed, priority=5) for seed in range(2)]
    barrier = threading.Barrier(2)
    got: dict[str, int | None] = {}

    def take(user: User) -> None:
        try:
            barrier.wait()
            taken = item_next(user=user)
            got[user.username] = taken.pk if taken else None
        finally:
            connection.close()

    threads = [
        threading.Thread(target=take, args=(user,))
        for user in (personas["moderator"], second_moderator)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [pk for pk in got.values() if pk is not None]
    assert len(taken) == len(got) and sorted(taken) == sorted(item.pk for item in items)


@pytest.mark.django_db
def test_next_item_takes_the_highest_priority_then_the_oldest(personas, second_moderator) -> None:
    low = review_item_create(seed=1, priority=1)
    old_high = review_item_create(seed=2, priority=9)
    new_high = review_item_create(seed=3, priority=9)
    assert item_next(user=personas["moderator"]) == old_high
    assert item_next(user=second_moderator) == new_high
    assert item_next(user=second_moderator) == low
    assert item_next(user=second_moderator) is None


@pytest.mark.django_db
def test_release_returns_the_item(personas, second_moderator) -> None:
    item = review_item_create()
    item_claim(item=item, user=personas["moderator"])
    assert item_release(item=item, user=second_moderator) is False
    assert item_release(item=item, user=personas["moderator"]) is True
    assert item_claim(item=item, user=second_moderator).claimed_by == second_moderator


@pytest.mark.django_db
def test_queue_filters_counts_and_mine(personas) -> None:
    edited = review_item_create(seed=1, label="edited_copy", platform="Alpha")
    review_item_create(seed=2, label="no_evidence", platform="Beta", with_match=False)
    moderator = personas["moderator"]
    assert list(review_queue(user=moderator, filters=QueueFilters(label="edited_copy"))) == [edited]
    assert [
        i.submission.platform
        for i in review_queue(user=moderator, filters=QueueFilters(platform="Beta"))
    ] == ["Beta"]
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert list(review_queue(user=moderator, filters=QueueFilters(date_from=tomorrow))) == []
    item_claim(item=edited, user=moderator)
    assert list(review_queue(user=moderator, filters=QueueFilters(mine=True))) == [edited]
    counts = queue_counts(user=moderator)
    assert counts["waiting"] == 2
    assert counts["mine"] == 1
    assert counts["by_label"] == {"edited_copy": 1, "no_evidence": 1}
    assert queue_counts(user=personas["outsider"])["waiting"] == 0


@pytest.mark.django_db
def test_client_scoped_moderators_see_only_their_clients(personas, api_client_credentials) -> None:
    client = api_client_credentials.client
    theirs = review_item_create(seed=1, client=client)
    review_item_create(seed=2)
    scoped = personas["moderator"]
    scoped.groups.add(Group.objects.create(name=f"client:{client.slug}"))
    assert list(review_queue(user=scoped)) == [theirs]
    other = review_item_create(seed=3)
    with pytest.raises(ReviewError, match="not in your queue"):
        item_claim(item=other, user=scoped)


@pytest.fixture
def heard() -> Iterator[list[int]]:
    """The ids `event_created` is sent with while the test runs."""
    ids: list[int] = []

    def hear(sender: object, *, event_id: int, **kwargs: object) -> None:
        ids.append(event_id)

    events.event_created.connect(hear)
    yield ids
    events.event_created.disconnect(hear)


@pytest.mark.django_db
def test_decision_is_audited_and_emits_its_event_on_commit(
    personas, django_capture_on_commit_callbacks, heard
) -> None:
    item = review_item_create()
    moderator = personas["moderator"]
    item_claim(item=item, user=moderator)
    with django_capture_on_commit_callbacks(execute=True):
        decision = decision_make(item=item, user=moderator, action="label", label="misleading")
        assert heard == []  # not before the transaction commits
    event = Event.objects.get(type="decision.made")
    assert heard == [event.pk]
    assert event.payload["action"] == "label"
    assert event.payload["label"] == "misleading"
    assert event.payload["submission_id"] == item.submission_id
    assert decision.report is not None and decision.report.version == 1
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.DECIDED
    assert AuditLog.objects.filter(action="decision.label", actor=moderator).exists()
    with pytest.raises(ReviewError):
        decision_make(item=item, user=moderator, action="allow")


@pytest.mark.django_db(transaction=True)
def test_rolled_back_decision_announces_nothing(personas, heard) -> None:
    item = review_item_create()
    item_claim(item=item, user=personas["moderator"])
    with pytest.raises(RuntimeError), transaction.atomic():
        decision_make(item=item, user=personas["moderator"], action="allow")
        raise RuntimeError("something later in the same transaction failed")
    assert heard == []
    assert not Event.objects.exists()
    assert not Decision.objects.exists()
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.CLAIMED


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["remove", "escalate"])
def test_remove_and_escalate_need_a_rationale(personas, action) -> None:
    item = review_item_create()
    item_claim(item=item, user=personas["moderator"])
    with pytest.raises(ReviewError, match="rationale is required"):
        decision_make(item=item, user=personas["moderator"], action=action, rationale="   ")
    decision = decision_make(
        item=item, user=personas["moderator"], action=action, rationale="Fabricated scene."
    )
    assert decision.rationale == "Fabricated scene."


@pytest.mark.django_db
def test_rationale_length_limit_boundary(personas) -> None:
    item = review_item_create()
    item_claim(item=item, user=personas["moderator"])
    with pytest.raises(ReviewError, match="limited"):
        decision_make(
            item=item,
            user=personas["moderator"],
            action="remove",
            rationale="x" * (MAX_RATIONALE_LENGTH + 1),
        )
    decision_make(
        item=item, user=personas["moderator"], action="remove", rationale="x" * MAX_RATIONALE_LENGTH
    )


@pytest.mark.django_db
def test_label_must_come_from_the_configured_list(personas) -> None:
    item = review_item_create()
    item_claim(item=item, user=personas["moderator"])
    with pytest.raises(ReviewError, match="label from the list"):
        decision_make(item=item, user=personas["moderator"], action="label", label="fake news")
    with pytest.raises(ReviewError, match="Unknown action"):
        decision_make(item=item, user=personas["moderator"], action="ban")
    assert decision_make(item=item, user=personas["moderator"], action="label", label="satire")


@pytest.mark.django_db
def test_fact_checkers_and_outsiders_cannot_claim_or_decide(personas) -> None:
    item = review_item_create()
    for name in ("fact_checker", "outsider"):
        with pytest.raises(ReviewError, match="needs the moderator or admin role"):
            item_claim(item=item, user=personas[name])
        with pytest.raises(ReviewError, match="needs the moderator or admin role"):
            decision_make(item=item, user=personas[name], action="allow")
        with pytest.raises(ReviewError, match="needs the moderator or admin role"):
            item_next(user=personas[name])


@pytest.mark.django_db
def test_escalation_and_history(personas) -> None:
    item = review_item_create()
    report_version_add(item, label="unaltered_copy", probability=0.1, reason="new reference")
    item_claim(item=item, user=personas["moderator"])
    decision_make(item=item, user=personas["moderator"], action="escalate", rationale="Check it.")
    history = item_history(item=item)
    assert [d.action for d in history["decisions"]] == ["escalate"]
    assert history["decisions"][0].report.version == 2
    assert [r.version for r in history["reports"]] == [2, 1]
    actions = {entry.action for entry in history["audit"]}
    assert {"review_item.claim", "decision.escalate", "review_item.escalate"} <= actions
