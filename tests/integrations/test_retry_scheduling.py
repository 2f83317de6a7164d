"""Retries and the broker's visibility timeout: a wait past half the timeout is held in the
database and queued by beat when due; each attempt is queued once, whoever queues it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from integrations.fetching import FETCH_RESUME_GRACE, inbound_fetches_resume, inbound_media_fetch
from integrations.models import Delivery, InboundWebhook, WebhookEndpoint
from integrations.outbound import deliveries_resume, delivery_attempt
from integrations.scheduling import (
    VISIBILITY_SAFE_FRACTION,
    countdown_limit,
    held_claim,
    held_due,
    queue_with_countdown,
)
from integrations.tasks import deliver_webhook, fetch_inbound_media
from moderation.events import SUBMISSION_ANALYZED, event_emit
from tests.integrations.webhook_helpers import fixture_body, serve_bytes, signed_post

pytestmark = pytest.mark.django_db

VISIBILITY_TIMEOUT = 900
LIMIT = VISIBILITY_TIMEOUT * VISIBILITY_SAFE_FRACTION


class Broker:
    """Records what would go to the broker instead of running it (task, id, countdown)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, float]] = []

    def recorder(self, name: str) -> Any:
        def apply_async(args: tuple, countdown: float = 0, **_: Any) -> None:
            self.sent.append((name, args[0], countdown))

        return apply_async


@pytest.fixture
def broker(settings, monkeypatch) -> Broker:
    settings.CELERY_VISIBILITY_TIMEOUT = VISIBILITY_TIMEOUT
    recorded = Broker()
    monkeypatch.setattr(deliver_webhook, "apply_async", recorded.recorder("deliver"))
    monkeypatch.setattr(fetch_inbound_media, "apply_async", recorded.recorder("fetch"))
    return recorded


def test_the_countdown_limit_is_half_the_visibility_timeout(broker) -> None:
    assert countdown_limit() == LIMIT
    assert queue_with_countdown(LIMIT)
    assert not queue_with_countdown(LIMIT + 0.001)


def test_the_defaults_leave_no_wait_on_the_broker_past_the_limit(settings) -> None:
    """With the default timeout the webhook beat job runs before any held retry is due."""
    assert countdown_limit() >= settings.WEBHOOKS_RESUME_EVERY_SECONDS


@pytest.fixture
def pending(sns, settings, loopback_server, analyses, make_image_bytes) -> Delivery:
    """A delivery whose receiver keeps answering 500, waiting for its first attempt."""
    from moderation.services import submission_create

    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = (10, 3600, 3600)
    loopback_server.post_statuses = [500] * 10
    endpoint = WebhookEndpoint.objects.create(client=sns.client, url=f"{loopback_server.url}/h")
    submission = submission_create(
        content=make_image_bytes(), source="webhook", client=sns.client, external_id="p"
    )
    event = event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})
    return Delivery.objects.create(
        endpoint=endpoint, event=event, event_type=event.type, webhook_id=f"evt_{event.pk}"
    )


def _due_now(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_short_delivery_wait_is_queued_and_a_long_one_is_held(
    broker, pending, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = delivery_attempt(delivery_id=pending.pk)
    assert first is not None and first.retry_in is not None and first.retry_in <= LIMIT
    assert broker.sent == [("deliver", pending.pk, first.retry_in)]
    pending.refresh_from_db()
    assert pending.queued_at is not None and pending.next_attempt_at > timezone.now()

    _due_now(pending)
    with django_capture_on_commit_callbacks(execute=True):
        second = delivery_attempt(delivery_id=pending.pk)
    assert (
        second is not None and second.retry_in is not None and second.retry_in > LIMIT
    )  # about an hour
    assert len(broker.sent) == 1  # nothing went to the broker
    pending.refresh_from_db()
    assert pending.queued_at is None
    assert pending.next_attempt_at - timezone.now() > timedelta(seconds=LIMIT)


def test_beat_queues_a_held_delivery_once_when_due_with_the_time_left(
    broker, pending, django_capture_on_commit_callbacks
) -> None:
    in_a_while = timezone.now() + timedelta(seconds=LIMIT + 60)
    Delivery.objects.filter(pk=pending.pk).update(queued_at=None, next_attempt_at=in_a_while)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_resume(since=timedelta(hours=1)).deliveries_queued == 0  # not yet
    assert broker.sent == []

    soon = timezone.now() + timedelta(seconds=LIMIT - 60)
    Delivery.objects.filter(pk=pending.pk).update(next_attempt_at=soon)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):  # three beat runs in a row: the attempt is queued by the first only
            deliveries_resume(since=timedelta(hours=1))
    assert [(name, row) for name, row, _ in broker.sent] == [("deliver", pending.pk)]
    countdown = broker.sent[0][2]
    assert LIMIT - 65 < countdown <= LIMIT - 60


def test_two_beat_runs_that_select_the_same_held_attempt_queue_it_once(broker, pending) -> None:
    due = timezone.now() + timedelta(seconds=30)
    Delivery.objects.filter(pk=pending.pk).update(queued_at=None, next_attempt_at=due)
    rows = Delivery.objects.filter(status=Delivery.Status.PENDING)
    now = timezone.now()
    seen_by_first, seen_by_second = held_due(rows, now=now), held_due(rows, now=now)
    assert seen_by_first == seen_by_second == [(pending.pk, due)]
    assert held_claim(rows, row_id=pending.pk, due=due, now=now) is True
    assert held_claim(rows, row_id=pending.pk, due=due, now=now) is False


def test_beat_never_queues_an_attempt_the_task_already_queued(
    broker, pending, django_capture_on_commit_callbacks
) -> None:
    """A live task scheduled the next attempt (short wait, queued with its countdown) while a
    beat run had the row in hand: the run's compare-and-set on the old schedule fails."""
    held = timezone.now() + timedelta(seconds=30)
    Delivery.objects.filter(pk=pending.pk).update(queued_at=None, next_attempt_at=held)
    rows = Delivery.objects.filter(status=Delivery.Status.PENDING)
    now = timezone.now()
    [(row_id, due)] = held_due(rows, now=now)
    _due_now(pending)
    Delivery.objects.filter(pk=pending.pk).update(queued_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        delivery_attempt(delivery_id=pending.pk)  # fails, queues attempt 2 itself
    assert held_claim(rows, row_id=row_id, due=due, now=now) is False
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_resume(since=timedelta(hours=1))
    assert len(broker.sent) == 1


def test_a_copy_that_runs_before_its_attempt_is_due_sends_nothing(
    broker, pending, loopback_server
) -> None:
    Delivery.objects.filter(pk=pending.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=30)
    )
    assert delivery_attempt(delivery_id=pending.pk) is None
    assert loopback_server.requests == []


def test_a_lost_delivery_task_is_queued_again_once_per_grace(
    broker, pending, django_capture_on_commit_callbacks
) -> None:
    from integrations.outbound import RESUME_GRACE

    long_ago = timezone.now() - RESUME_GRACE - timedelta(seconds=1)
    Delivery.objects.filter(pk=pending.pk).update(queued_at=long_ago, next_attempt_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_resume(since=timedelta(hours=1)).deliveries_requeued == 1
        assert deliveries_resume(since=timedelta(hours=1)).deliveries_requeued == 0
    assert broker.sent == [("deliver", pending.pk, 0.0)]


@pytest.fixture
def fetch(client, sns, analyses, loopback_server, settings, monkeypatch) -> InboundWebhook:
    """A media_url webhook whose media host answers 503; its first fetch not run yet."""
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True
    monkeypatch.setattr(fetch_inbound_media, "delay", lambda inbound_id: None)
    loopback_server.routes["/m.png"] = serve_bytes(b"", status=503)
    body = fixture_body("content_created_media_url", media_url=f"{loopback_server.url}/m.png")
    response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 202, response.content
    return InboundWebhook.objects.get(pk=response.json()["id"])


def test_fetch_retries_past_the_limit_are_held_in_the_database(
    broker, fetch, django_capture_on_commit_callbacks
) -> None:
    waits = []
    for _ in range(3):
        InboundWebhook.objects.filter(pk=fetch.pk).update(next_attempt_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            waits.append(inbound_media_fetch(inbound_id=fetch.pk).retry_in)
    assert waits == [30, 120, 600]
    assert broker.sent == [("fetch", fetch.pk, 30), ("fetch", fetch.pk, 120)]  # 600 > 450
    fetch.refresh_from_db()
    assert fetch.queued_at is None and fetch.fetch_attempts == 3


def test_a_fetch_waiting_for_its_retry_is_not_queued_by_the_repair_before_it_is_due(
    broker, fetch, django_capture_on_commit_callbacks
) -> None:
    """It was: the repair took `updated_at` unchanged for 15 min as lost, and update() never
    moved `updated_at`, so a fetch received 20 min ago and waiting was queued every run."""
    now = timezone.now()
    InboundWebhook.objects.filter(pk=fetch.pk).update(
        received_at=now - timedelta(minutes=20),
        updated_at=now - timedelta(minutes=20),
        queued_at=None,
        next_attempt_at=now + timedelta(seconds=LIMIT + 60),
        fetch_attempts=3,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_fetches_resume(since=timedelta(hours=1)) == 0
    assert broker.sent == []
    InboundWebhook.objects.filter(pk=fetch.pk).update(next_attempt_at=now + timedelta(seconds=60))
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_fetches_resume(since=timedelta(hours=1)) == 1
        assert inbound_fetches_resume(since=timedelta(hours=1)) == 0
    [(name, row, countdown)] = broker.sent
    assert (name, row) == ("fetch", fetch.pk) and 55 < countdown <= 60


def test_a_fetch_copy_that_runs_early_fetches_nothing(broker, fetch, loopback_server) -> None:
    InboundWebhook.objects.filter(pk=fetch.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert inbound_media_fetch(inbound_id=fetch.pk).status == "fetching"
    assert loopback_server.requests == []
    assert InboundWebhook.objects.get(pk=fetch.pk).fetch_attempts == 0


def test_a_lost_fetch_task_is_queued_again_once_per_grace(
    broker, fetch, django_capture_on_commit_callbacks
) -> None:
    long_ago = timezone.now() - FETCH_RESUME_GRACE - timedelta(seconds=1)
    InboundWebhook.objects.filter(pk=fetch.pk).update(queued_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assert inbound_fetches_resume(since=timedelta(hours=1)) == 1
        assert inbound_fetches_resume(since=timedelta(hours=1)) == 0
    assert broker.sent == [("fetch", fetch.pk, 0.0)]


def test_a_held_retry_of_a_delivery_older_than_the_lookback_is_queued_too(
    broker, pending, django_capture_on_commit_callbacks
) -> None:
    """A manual redelivery of an old event starts a fresh schedule, whose long waits are held."""
    from integrations.outbound import RESUME_LOOKBACK

    Delivery.objects.filter(pk=pending.pk).update(
        created_at=timezone.now() - RESUME_LOOKBACK * 2,
        queued_at=None,
        next_attempt_at=timezone.now() + timedelta(seconds=10),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_resume(since=RESUME_LOOKBACK).deliveries_queued == 1
    assert [row for _, row, _ in broker.sent] == [pending.pk]
