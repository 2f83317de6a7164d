"""Celery entry points: media fetches (routed to the `ingest` queue) and deliveries (`deliver`);
the routes are in settings.CELERY_TASK_ROUTES."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from integrations.fetching import inbound_fetches_resume, inbound_media_fetch
from integrations.outbound import (
    DELIVERY_LEASE,
    RESUME_LOOKBACK,
    deliveries_resume,
    delivery_attempt,
)


@shared_task(name="integrations.fetch_inbound_media")
def fetch_inbound_media(inbound_id: int) -> str:
    """Retries are scheduled by the service (queued, or held for beat when far ahead)."""
    return inbound_media_fetch(inbound_id=inbound_id).status


@shared_task(name="integrations.deliver_webhook", bind=True, max_retries=None)
def deliver_webhook(self: Any, delivery_id: int) -> str:
    """Retries are scheduled by the service (it records each attempt first); this only retries
    after an unexpected error, once the lease the crashed attempt holds has run out."""
    try:
        outcome = delivery_attempt(delivery_id=delivery_id)
    except Exception as error:
        raise self.retry(exc=error, countdown=DELIVERY_LEASE.total_seconds()) from error
    return outcome.status if outcome is not None else "skipped"


@shared_task(name="integrations.resume_deliveries")
def resume_deliveries() -> str:
    """`webhooks_resume` on a schedule (settings.CELERY_BEAT_SCHEDULE, the `beat` process)."""
    resumed = deliveries_resume(since=RESUME_LOOKBACK)
    fetches = inbound_fetches_resume(since=RESUME_LOOKBACK)
    return (
        f"{resumed.deliveries_created} created, {resumed.deliveries_requeued} requeued, "
        f"{resumed.deliveries_queued} held retries queued, {fetches} fetches queued"
    )
