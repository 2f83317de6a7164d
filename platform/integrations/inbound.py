"""Inbound webhooks: verify, validate, deduplicate, store, and hand the content to moderation."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import ApiClient
from config.errors import ServiceError
from config.jsoninput import JsonRejected, json_loads_strict
from integrations.endpoints import webhook_secrets_by_slug
from integrations.models import InboundWebhook
from integrations.safe_http import MAX_URL_LENGTH, url_scheme_allowed
from integrations.signing import SignatureError, verify
from mediastore.refusals import MediaRejected
from moderation import services as moderation_services
from moderation.metadata import MetadataInvalid, metadata_check
from moderation.models import Submission
from moderation.services import SubmissionError

# Bodies are read into memory to be verified; base64 media of up to ~7.5 MB fits, larger media
# must be sent as a URL.
MAX_INBOUND_BODY_BYTES = 10 * 1024 * 1024
CONTENT_CREATED = "content.created"
INBOUND_EVENT_TYPES = (CONTENT_CREATED,)
MAX_EXTERNAL_ID_LENGTH = 200
MAX_CAPTION_LENGTH = 10_000
# The payload is kept (without inline media) as the record of what was received; fields we do not
# use may not make it a store for anything a sender likes.
MAX_STORED_PAYLOAD_BYTES = 64 * 1024
SUBMISSION_SOURCE_WEBHOOK = "webhook"


class PayloadInvalid(ServiceError, ValueError):
    """The signed payload is not acceptable (400); the message names the field."""

    default_code = "invalid_payload"


@dataclass(frozen=True)
class ContentPayload:
    type: str
    external_id: str
    caption: str
    media_url: str
    media_bytes: bytes | None
    metadata: dict[str, Any] = field(default_factory=dict)
    stored_payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundResult:
    inbound: InboundWebhook
    duplicate: bool


def content_payload_parse(body: bytes) -> ContentPayload:
    try:
        document = json_loads_strict(body)
    except JsonRejected as error:
        raise PayloadInvalid(f"body: {error}", code=error.code) from None
    if not isinstance(document, dict):
        raise PayloadInvalid("body must be a JSON object")
    event_type = document.get("type")
    if event_type not in INBOUND_EVENT_TYPES:
        raise PayloadInvalid(f"type must be one of {', '.join(INBOUND_EVENT_TYPES)}")
    data = document.get("data")
    if not isinstance(data, dict):
        raise PayloadInvalid("data must be an object")
    external_id = data.get("id")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not 1 <= len(external_id) <= MAX_EXTERNAL_ID_LENGTH:
        raise PayloadInvalid(f"data.id must be a string of 1 to {MAX_EXTERNAL_ID_LENGTH} chars")
    caption = data.get("caption", "")
    if caption is None:
        caption = ""
    if not isinstance(caption, str) or len(caption) > MAX_CAPTION_LENGTH:
        raise PayloadInvalid(f"data.caption must be a string of at most {MAX_CAPTION_LENGTH}")
    media_url, media_bytes = _media_of(data)
    metadata = content_metadata(data)
    stored = {"type": event_type, "data": {k: v for k, v in data.items() if k != "media_base64"}}
    if media_bytes is not None:
        stored["data"]["media_base64_bytes"] = len(media_bytes)
    stored_bytes = len(json.dumps(stored))
    if stored_bytes > MAX_STORED_PAYLOAD_BYTES:
        raise PayloadInvalid(
            f"the payload without media_base64 is {stored_bytes} bytes; the limit is "
            f"{MAX_STORED_PAYLOAD_BYTES}",
            code="too_large",
        )
    return ContentPayload(
        type=event_type,
        external_id=external_id,
        caption=caption,
        media_url=media_url,
        media_bytes=media_bytes,
        metadata=metadata,
        stored_payload=stored,
    )


def _media_of(data: dict[str, Any]) -> tuple[str, bytes | None]:
    media_url = data.get("media_url")
    media_base64 = data.get("media_base64")
    if (media_url is None) == (media_base64 is None):
        raise PayloadInvalid("data needs exactly one of media_url and media_base64")
    if media_url is not None:
        if not url_scheme_allowed(media_url):
            raise PayloadInvalid(
                f"data.media_url must be an http(s) URL of at most {MAX_URL_LENGTH} characters"
            )
        return media_url, None
    if not isinstance(media_base64, str) or not media_base64:
        raise PayloadInvalid("data.media_base64 must be a non-empty base64 string")
    try:
        return "", base64.b64decode(media_base64, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadInvalid("data.media_base64 is not valid base64") from None


def content_metadata(data: dict[str, Any]) -> dict[str, Any]:
    """The submission metadata a payload carries (author, reach, permalink, posted_at), checked
    by moderation.metadata's rules at receipt, so a media_url delivery is refused here too."""
    metadata: dict[str, Any] = {}
    author = data.get("author")
    if author is not None:
        if not isinstance(author, dict):
            raise PayloadInvalid("data.author must be an object")
        metadata["author"] = author
    if data.get("reach") is not None:
        metadata["reach"] = data["reach"]
    # Compatible extensions: where and when the content was posted.
    for key in ("permalink", "posted_at"):
        value = data.get(key)
        if value is not None:
            if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
                raise PayloadInvalid(f"data.{key} must be a string")
            metadata[key] = value
    try:
        return metadata_check(metadata, prefix="data")
    except MetadataInvalid as error:
        raise PayloadInvalid(str(error), code="invalid_metadata") from None


def inbound_webhook_receive(
    *, client_slug: str, headers: Mapping[str, str], body: bytes
) -> InboundResult:
    """Verify, validate and store one inbound delivery; a repeated webhook-id is a no-op."""
    client_id, secrets = webhook_secrets_by_slug(slug=client_slug)
    if client_id is None:
        # Same answer as a bad signature: the endpoint does not reveal which clients exist.
        raise SignatureError("no valid signature")
    webhook_id = verify(secrets=secrets, headers=headers, body=body)
    payload = content_payload_parse(body)
    if payload.media_bytes is None:
        return _inbound_store_for_fetch(client_id=client_id, webhook_id=webhook_id, payload=payload)
    return _inbound_store_with_submission(
        client_id=client_id, webhook_id=webhook_id, payload=payload
    )


def _inbound_create(
    *,
    client_id: int,
    webhook_id: str,
    payload: ContentPayload,
    status: str,
    submission: Submission | None = None,
) -> InboundWebhook:
    return InboundWebhook.objects.create(
        client_id=client_id,
        webhook_id=webhook_id,
        type=payload.type,
        external_id=payload.external_id,
        media_url=payload.media_url,
        payload=payload.stored_payload,
        status=status,
        submission=submission,
    )


def _inbound_insert(
    *, client_id: int, webhook_id: str, payload: ContentPayload
) -> tuple[InboundWebhook, bool]:
    """(row, duplicate). The unique (client, webhook_id) decides: a concurrent twin blocks on
    the index until the first insert commits, then fails here and reads the winner's row."""
    # Inside a transaction the failed INSERT must be fenced by a savepoint; outside one (the
    # media_url path) a bare INSERT commits on its own, which saves three round trips.
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else nullcontext():
            inbound = _inbound_create(
                client_id=client_id,
                webhook_id=webhook_id,
                payload=payload,
                status=InboundWebhook.Status.FETCHING,
            )
    except IntegrityError:
        return InboundWebhook.objects.get(client_id=client_id, webhook_id=webhook_id), True
    return inbound, False


def _inbound_store_for_fetch(
    *, client_id: int, webhook_id: str, payload: ContentPayload
) -> InboundResult:
    from integrations.tasks import fetch_inbound_media

    inbound, duplicate = _inbound_insert(
        client_id=client_id, webhook_id=webhook_id, payload=payload
    )
    if not duplicate:
        # Should the broker refuse the task, the sender gets a 5xx, its retry a duplicate 2xx,
        # and `webhooks_resume` queues the fetch of the row left behind.
        transaction.on_commit(functools.partial(fetch_inbound_media.delay, inbound.pk))
    return InboundResult(inbound=inbound, duplicate=duplicate)


def _inbound_store_with_submission(
    *, client_id: int, webhook_id: str, payload: ContentPayload
) -> InboundResult:
    """The submission first, then the inbound row that points at it, in one transaction. A
    repeated webhook-id fails the row's unique (client, webhook_id) (a concurrent twin blocks on
    the index until the first commits), which rolls back this delivery's submission with it:
    no savepoint and no UPDATE on the common path, exactly one submission per delivery."""
    try:
        with transaction.atomic():
            client = ApiClient.objects.select_related("user").get(pk=client_id)
            try:
                submission = submission_from_webhook(
                    client=client, payload=payload, content=payload.media_bytes or b""
                )
            except (MediaRejected, SubmissionError) as error:
                # Nothing is kept: the sender may fix the media and send it again.
                raise PayloadInvalid(f"data.media_base64: {error}") from None
            inbound = _inbound_create(
                client_id=client_id,
                webhook_id=webhook_id,
                payload=payload,
                status=InboundWebhook.Status.SUBMITTED,
                submission=submission,
            )
    except IntegrityError:
        winner = InboundWebhook.objects.filter(client_id=client_id, webhook_id=webhook_id).first()
        if winner is None:
            raise
        return InboundResult(inbound=winner, duplicate=True)
    return InboundResult(inbound=inbound, duplicate=False)


def submission_from_webhook(
    *, client: ApiClient, payload: ContentPayload, content: bytes
) -> Submission:
    return moderation_services.submission_create(
        content=content,
        source=SUBMISSION_SOURCE_WEBHOOK,
        client=client,
        external_id=payload.external_id,
        text=payload.caption,
        platform=client.name,
        metadata=payload.metadata,
    )
