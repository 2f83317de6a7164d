"""The worker side of inbound webhooks that send a media URL: download it safely, submit it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.inbound import ContentPayload, content_metadata, submission_from_webhook
from integrations.models import InboundWebhook
from integrations.safe_http import FetchFailed, UnsafeUrl, safe_request
from mediastore.images import MAX_UPLOAD_BYTES, ImageRejected
from moderation.services import SubmissionError

MAX_MEDIA_FETCH_BYTES = MAX_UPLOAD_BYTES
MEDIA_FETCH_TIMEOUT_SECONDS = 20.0
MAX_MEDIA_FETCH_REDIRECTS = 3
# Transient failures (network, 5xx, 429) are retried this many times in all, this far apart.
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
    """Idempotent: a webhook already submitted or failed is left alone."""
    inbound = InboundWebhook.objects.select_related("client").filter(pk=inbound_id).first()
    if inbound is None or inbound.status != InboundWebhook.Status.FETCHING:
        return FetchOutcome(status=inbound.status if inbound else "missing")
    InboundWebhook.objects.filter(pk=inbound.pk).update(fetch_attempts=F("fetch_attempts") + 1)
    attempt = inbound.fetch_attempts + 1
    try:
        response = safe_request(
            "GET",
            inbound.media_url,
            headers={"User-Agent": USER_AGENT, "Accept": "image/*"},
            max_bytes=MAX_MEDIA_FETCH_BYTES,
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
    except (ImageRejected, SubmissionError) as error:
        return _fail(inbound, f"media is not an accepted image: {error}")
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
    InboundWebhook.objects.filter(pk=inbound.pk).update(error=error)
    delay = MEDIA_FETCH_RETRY_SECONDS[min(attempt, len(MEDIA_FETCH_RETRY_SECONDS)) - 1]
    return FetchOutcome(status=InboundWebhook.Status.FETCHING, retry_in=delay, error=error)


# Longer than the longest retry wait, so a fetch waiting for its retry is not queued twice.
FETCH_RESUME_GRACE = timedelta(seconds=max(MEDIA_FETCH_RETRY_SECONDS) + 300)


def inbound_fetches_resume(*, since: timedelta) -> int:
    """Queue again the fetches of media_url webhooks of the last `since` that have been
    waiting longer than any retry would (a task the broker lost or never took)."""
    from integrations.tasks import fetch_inbound_media

    now = timezone.now()
    stale = list(
        InboundWebhook.objects.filter(
            status=InboundWebhook.Status.FETCHING,
            received_at__gte=now - since,
            updated_at__lt=now - FETCH_RESUME_GRACE,
        ).values_list("pk", flat=True)
    )
    for inbound_id in stale:
        fetch_inbound_media.delay_on_commit(inbound_id)
    return len(stale)
