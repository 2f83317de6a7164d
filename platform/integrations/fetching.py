"""The worker side of inbound webhooks that send a media URL: download it safely, submit it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.inbound import ContentPayload, content_metadata, submission_from_webhook
from integrations.models import InboundWebhook
from integrations.safe_http import FetchFailed, UnsafeUrl, safe_request
from integrations.scheduling import DUE_TOLERANCE, held_queue, lost_queue, retry_columns
from mediastore.refusals import MediaRejected
from mediastore.services import media_max_bytes
from moderation.services import SubmissionError

MEDIA_FETCH_TIMEOUT_SECONDS = 20.0
MAX_MEDIA_FETCH_REDIRECTS = 3
# Transient failures (network, 5xx, 429) are retried this many times in all, this far apart;
# a wait past half the visibility timeout is held in the database (integrations.scheduling).
MEDIA_FETCH_MAX_ATTEMPTS = 4
MEDIA_FETCH_RETRY_SECONDS = (30, 120, 600)
USER_AGENT = "Provenant-Fetcher/1"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchOutcome:
    status: str
    retry_in: float | None = None
    error: str = ""


def inbound_media_fetch(*, inbound_id: int) -> FetchOutcome:
    """Idempotent: a webhook already submitted or failed is left alone, and so is one whose
    next attempt is not due yet (an early or duplicated copy of the task)."""
    inbound = InboundWebhook.objects.select_related("client").filter(pk=inbound_id).first()
    if inbound is None or inbound.status != InboundWebhook.Status.FETCHING:
        return FetchOutcome(status=inbound.status if inbound else "missing")
    due = timezone.now() + DUE_TOLERANCE
    claimed = (
        InboundWebhook.objects.filter(pk=inbound.pk, status=InboundWebhook.Status.FETCHING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due))
        .update(fetch_attempts=F("fetch_attempts") + 1)
    )
    if claimed != 1:
        return FetchOutcome(status=inbound.status)
    attempt = inbound.fetch_attempts + 1
    try:
        response = safe_request(
            "GET",
            inbound.media_url,
            headers={"User-Agent": USER_AGENT, "Accept": "image/*"},
            max_bytes=media_max_bytes(allow_video=True),
            timeout=MEDIA_FETCH_TIMEOUT_SECONDS,
            max_redirects=MAX_MEDIA_FETCH_REDIRECTS,
        )
    except UnsafeUrl as error:
        return _fail(inbound, f"media_url refused: {error}")
    except FetchFailed as error:
        return _fail_or_retry(inbound, attempt, f"media_url fetch failed: {error}")
    if response.status >= 500 or response.status == 429:
        return _fail_or_retry(inbound, attempt, f"media_url answered HTTP {response.status}")
    if not 200 <= response.status < 300:
        return _fail(inbound, f"media_url answered HTTP {response.status}")
    return _submit(inbound, response.body)


def _submit(inbound: InboundWebhook, content: bytes) -> FetchOutcome:
    data = inbound.payload.get("data", {})
    payload = ContentPayload(
        type=inbound.type,
        external_id=inbound.external_id,
        caption=data.get("caption") or "",
        media_url=inbound.media_url,
        media_bytes=None,
        metadata=content_metadata(data),
    )
    try:
        with transaction.atomic():
            # The row lock makes a concurrent copy of this task wait, then see SUBMITTED.
            locked = InboundWebhook.objects.select_for_update().get(pk=inbound.pk)
            if locked.status != InboundWebhook.Status.FETCHING:
                return FetchOutcome(status=locked.status)
            submission = submission_from_webhook(
                client=inbound.client, payload=payload, content=content
            )
            locked.submission = submission
            locked.status = InboundWebhook.Status.SUBMITTED
            locked.error = ""
            locked.save(update_fields=["submission", "status", "error", "updated_at"])
    except (MediaRejected, SubmissionError) as error:
        return _fail(inbound, f"media is not an accepted image or video: {error}")
    return FetchOutcome(status=InboundWebhook.Status.SUBMITTED)


def _fail(inbound: InboundWebhook, error: str) -> FetchOutcome:
    logger.warning("inbound webhook %s failed: %s", inbound.pk, error)
    InboundWebhook.objects.filter(pk=inbound.pk, status=InboundWebhook.Status.FETCHING).update(
        status=InboundWebhook.Status.FAILED, error=error
    )
    return FetchOutcome(status=InboundWebhook.Status.FAILED, error=error)


def _fail_or_retry(inbound: InboundWebhook, attempt: int, error: str) -> FetchOutcome:
    if attempt >= MEDIA_FETCH_MAX_ATTEMPTS:
        return _fail(inbound, f"{error} (after {attempt} attempts)")
    delay = MEDIA_FETCH_RETRY_SECONDS[min(attempt, len(MEDIA_FETCH_RETRY_SECONDS)) - 1]
    schedule = retry_columns(now=timezone.now(), wait=delay)
    with transaction.atomic():
        InboundWebhook.objects.filter(pk=inbound.pk, status=InboundWebhook.Status.FETCHING).update(
            error=error, **schedule
        )
        if schedule["queued_at"] is not None:
            _enqueue_on_commit(inbound.pk, delay)
    return FetchOutcome(status=InboundWebhook.Status.FETCHING, retry_in=delay, error=error)


def _enqueue_on_commit(inbound_id: int, countdown: float) -> None:
    from integrations.tasks import fetch_inbound_media

    transaction.on_commit(
        lambda: fetch_inbound_media.apply_async((inbound_id,), countdown=countdown)
    )


# A queued fetch not started this long after it was due lost its task; the repair queues it
# again, at most once per this period.
FETCH_RESUME_GRACE = timedelta(minutes=5)


def inbound_fetches_resume(*, since: timedelta) -> int:
    """The beat job for media_url webhooks of the last `since` still fetching: queue retries
    held in the database once they are due (each attempt once), and fetches whose task was
    lost. Returns how many were queued."""
    now = timezone.now()
    fetching = InboundWebhook.objects.filter(
        status=InboundWebhook.Status.FETCHING, received_at__gte=now - since
    )
    queued = held_queue(fetching, now=now, enqueue=_enqueue_on_commit)
    return queued + lost_queue(
        fetching, now=now, grace=FETCH_RESUME_GRACE, enqueue=_enqueue_on_commit
    )
