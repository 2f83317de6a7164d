"""Outbound events: one Delivery per subscribed endpoint, signed, retried, recorded per attempt."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from config.errors import ServiceError
from integrations.endpoints import (
    webhook_endpoint_default_ensure,
    webhook_endpoint_disable,
    webhook_secrets_valid,
)
from integrations.models import Delivery, DeliveryAttempt, WebhookEndpoint
from integrations.safe_http import FetchFailed, UnsafeUrl, safe_request
from integrations.scheduling import DUE_TOLERANCE, held_queue, lost_queue, retry_columns
from integrations.signing import signed_headers
from moderation.models import Event

# Seconds to wait after failed attempt n (1-based) before attempt n+1: exponential, ~24 h in
# all, so a receiver down for a day still gets every event. After the last entry it gives up.
# Waits longer than half the broker's visibility timeout are held in the database and queued
# by beat when due (integrations.scheduling).
RETRY_SCHEDULE_SECONDS = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800)
# Each wait is scaled by a random factor in [1 - j, 1 + j] so retries of many deliveries to a
# receiver that just came back do not arrive in lock-step.
RETRY_JITTER = 0.2
DELIVERY_TIMEOUT_SECONDS = 15.0
# Only an excerpt of the receiver's answer is kept; reading more is wasted work.
MAX_RESPONSE_EXCERPT_BYTES = 4 * 1024
# Longer than one attempt can take, so a live sender's lease never lapses under it.
DELIVERY_LEASE = timedelta(seconds=DELIVERY_TIMEOUT_SECONDS * 4)
USER_AGENT = "Provenant-Webhooks/1"

logger = logging.getLogger(__name__)


class DeliveryError(ServiceError, ValueError):
    """A delivery cannot be changed as asked (409); the message says why."""

    default_code = "delivery_conflict"
    status = HTTPStatus.CONFLICT


@dataclass(frozen=True)
class AttemptOutcome:
    status: str
    response_status: int | None = None
    error: str = ""
    retry_in: float | None = None


def retry_schedule() -> tuple[float, ...]:
    """The schedule in force; tests shorten it with the WEBHOOK_RETRY_SCHEDULE_SECONDS setting."""
    override = getattr(settings, "WEBHOOK_RETRY_SCHEDULE_SECONDS", None)
    return tuple(override) if override is not None else RETRY_SCHEDULE_SECONDS


def retry_delay(*, failed_attempts: int) -> float | None:
    """Seconds before the next attempt after `failed_attempts` in a row, or None: give up."""
    schedule = retry_schedule()
    if failed_attempts > len(schedule):
        return None
    return schedule[failed_attempts - 1] * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)


def event_created_receiver(sender: object, *, event_id: int, **kwargs: object) -> None:
    """Receiver of `moderation.events.event_created` (connected in IntegrationsConfig.ready):
    runs after the event's transaction commits."""
    deliveries_create_for_event(event_id)


def deliveries_create_for_event(event_id: int) -> list[Delivery]:
    """One delivery per subscribed active endpoint of the event's client (idempotent)."""
    event = Event.objects.select_related("client").filter(pk=event_id).first()
    if event is None or event.client is None or not event.client.is_active:
        return []
    webhook_endpoint_default_ensure(client=event.client)
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(client=event.client, is_active=True)
        if endpoint.subscribes_to(event.type)
    ]
    created: list[Delivery] = []
    with transaction.atomic():
        for endpoint in endpoints:
            delivery, is_new = Delivery.objects.get_or_create(
                endpoint=endpoint,
                event=event,
                defaults={
                    "event_type": event.type,
                    "webhook_id": f"evt_{event.pk}",
                    "queued_at": timezone.now(),
                },
            )
            if is_new:
                created.append(delivery)
                _enqueue_on_commit(delivery.pk)
    return created


def event_body(event: Event) -> bytes:
    """The Standard Webhooks payload shape: type, timestamp, data."""
    document = {
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def delivery_attempt(*, delivery_id: int) -> AttemptOutcome | None:
    """Send one attempt if the delivery is pending, due and not being sent; None otherwise.

    Idempotent: a duplicated or late task finds the delivery delivered, failed, leased or not yet
    due, and sends nothing.
    """
    now = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + DUE_TOLERANCE))
        .update(locked_until=now + DELIVERY_LEASE)
    )
    if claimed != 1:
        return None
    delivery = Delivery.objects.select_related("endpoint__client", "event").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        return _finish(delivery, None, "endpoint is disabled", give_up=True)
    # One signature per valid secret, newest first: during a rotation the receiver verifies
    # with whichever secret it holds (Standard Webhooks' reason for several signatures).
    secrets = webhook_secrets_valid(client=endpoint.client)
    if not secrets:
        return _finish(delivery, None, "the client has no valid webhook secret", give_up=True)
    exchange = _post_signed(delivery, secrets)
    # The attempt row and the delivery's new state commit together: a worker killed between
    # the two left attempt N recorded but the delivery at N-1, and every later try then failed
    # on the attempt number's unique constraint, re-sending the event forever (scripts/chaos.py).
    with transaction.atomic():
        return _attempt_record(delivery, exchange)


def _attempt_record(delivery: Delivery, exchange: _Exchange) -> AttemptOutcome:
    endpoint = delivery.endpoint
    response_status = exchange.response_status
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempt_count + 1,
        started_at=exchange.started_at,
        latency_ms=exchange.latency_ms,
        response_status=response_status,
        response_excerpt=exchange.excerpt,
        error=exchange.error,
        succeeded=response_status is not None and 200 <= response_status < 300,
    )
    if response_status == 410:
        webhook_endpoint_disable(endpoint=endpoint, reason="the receiver answered 410 Gone")
        return _finish(delivery, 410, "410 Gone: endpoint disabled", give_up=True, attempted=True)
    if response_status is not None and 200 <= response_status < 300:
        return _finish(delivery, response_status, "", delivered=True, attempted=True)
    if exchange.refused:
        # The address will not become safe by waiting: give up now instead of for a day.
        error = f"{exchange.error}; not retried: the endpoint's address is refused"
        return _finish(delivery, None, error, give_up=True, attempted=True)
    error = exchange.error or f"HTTP {response_status}"
    return _finish(delivery, response_status, error, attempted=True)


@dataclass(frozen=True)
class _Exchange:
    started_at: datetime
    latency_ms: float
    response_status: int | None
    excerpt: str
    error: str
    refused: bool = False  # UnsafeUrl: nothing was sent, and retrying cannot help


def _post_signed(delivery: Delivery, secrets: list[str]) -> _Exchange:
    body = event_body(delivery.event)
    headers = signed_headers(secrets=secrets, webhook_id=delivery.webhook_id, body=body)
    headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT})
    started_at = timezone.now()
    clock = time.perf_counter()
    try:
        response = safe_request(
            "POST",
            delivery.endpoint.url,
            body=body,
            headers=headers,
            max_bytes=MAX_RESPONSE_EXCERPT_BYTES,
            timeout=DELIVERY_TIMEOUT_SECONDS,
            truncate=True,
        )
    except (UnsafeUrl, FetchFailed) as failure:
        latency_ms = (time.perf_counter() - clock) * 1000
        refused = isinstance(failure, UnsafeUrl)
        return _Exchange(started_at, latency_ms, None, "", str(failure), refused=refused)
    latency_ms = (time.perf_counter() - clock) * 1000
    excerpt = response.body.decode("utf-8", "replace")
    return _Exchange(started_at, latency_ms, response.status, excerpt, "")


def _finish(
    delivery: Delivery,
    response_status: int | None,
    error: str,
    *,
    delivered: bool = False,
    give_up: bool = False,
    attempted: bool = False,
) -> AttemptOutcome:
    attempts = delivery.attempt_count + (1 if attempted else 0)
    retry_in = None
    if delivered:
        status = Delivery.Status.DELIVERED
    elif give_up:
        status = Delivery.Status.FAILED
    else:
        retry_in = retry_delay(failed_attempts=attempts - delivery.attempts_before_redelivery)
        status = Delivery.Status.PENDING if retry_in is not None else Delivery.Status.FAILED
    now = timezone.now()
    schedule: dict[str, datetime | None] = {"next_attempt_at": None, "queued_at": None}
    if retry_in is not None:
        schedule = retry_columns(now=now, wait=retry_in)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status,
            attempt_count=attempts,
            last_response_status=response_status,
            last_error=error[:2000],
            delivered_at=now if delivered else None,
            locked_until=None,
            updated_at=now,
            **schedule,
        )
        if retry_in is not None and schedule["queued_at"] is not None:
            _enqueue_on_commit(delivery.pk, countdown=retry_in)
    if status == Delivery.Status.FAILED:
        logger.warning("delivery %s failed for good: %s", delivery.pk, error)
    return AttemptOutcome(
        status=status, response_status=response_status, error=error, retry_in=retry_in
    )


def _enqueue_on_commit(delivery_id: int, countdown: float = 0) -> None:
    from integrations.tasks import deliver_webhook

    transaction.on_commit(lambda: deliver_webhook.apply_async((delivery_id,), countdown=countdown))


def delivery_redeliver(*, delivery: Delivery, actor: User | None = None) -> Delivery:
    """Send a delivered or failed event again, with a fresh retry schedule."""
    if not delivery.endpoint.is_active:
        raise DeliveryError(
            "the endpoint is disabled; enable it before redelivering", code="endpoint_disabled"
        )
    with transaction.atomic():
        reset = Delivery.objects.filter(
            pk=delivery.pk, status__in=[Delivery.Status.DELIVERED, Delivery.Status.FAILED]
        ).update(
            status=Delivery.Status.PENDING,
            attempts_before_redelivery=F("attempt_count"),
            redeliveries=F("redeliveries") + 1,
            next_attempt_at=None,
            queued_at=timezone.now(),
            locked_until=None,
            updated_at=timezone.now(),
        )
        if reset != 1:
            raise DeliveryError(
                "the delivery is still pending; it will be retried on schedule",
                code="delivery_pending",
            )
        audit_record(actor=actor, action="delivery.redeliver", target=delivery)
        _enqueue_on_commit(delivery.pk)
    delivery.refresh_from_db()
    return delivery


# A queued attempt this far past its due time has lost its task (broker restart, a listener
# that failed after commit); the repair queues it again, at most once per this period.
RESUME_GRACE = timedelta(minutes=5)
RESUME_LOOKBACK = timedelta(hours=48)  # how far back the scheduled repair (and the command) look


@dataclass(frozen=True)
class Resumed:
    events_examined: int
    deliveries_created: int
    deliveries_requeued: int  # lost tasks queued again
    deliveries_queued: int = 0  # retries held in the database, queued now that they are due


def deliveries_resume(*, since: timedelta) -> Resumed:
    """The beat job: events of the last `since` with no delivery get their deliveries; held
    retries due within the countdown limit are queued (each attempt once, compare-and-set);
    attempts whose task was lost are queued again (pending deliveries of any age). Idempotent."""
    now = timezone.now()
    event_ids = list(
        Event.objects.filter(
            created_at__gte=now - since, client__isnull=False, deliveries__isnull=True
        ).values_list("pk", flat=True)
    )
    created = sum(len(deliveries_create_for_event(event_id)) for event_id in event_ids)
    # Pending deliveries of any age: a redelivery of an old event has held retries too.
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    )
    queued = held_queue(pending, now=now, enqueue=_enqueue_on_commit)
    requeued = lost_queue(pending, now=now, grace=RESUME_GRACE, enqueue=_enqueue_on_commit)
    return Resumed(
        events_examined=len(event_ids),
        deliveries_created=created,
        deliveries_requeued=requeued,
        deliveries_queued=queued,
    )
