"""Standard Webhooks signatures (https://www.standardwebhooks.com/), in both directions.

Hand-written rather than the `standardwebhooks` package: that package pulls in an HTTP client
stack and fixes its own tolerance, while all we need is HMAC-SHA256 over `id.timestamp.body`.
The fixed test vector in tests/integrations/test_signing.py is the reference libraries' one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from http import HTTPStatus

from config.errors import ServiceError

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
# Timestamps further than this from our clock, in either direction, are replays or bad clocks.
WEBHOOK_TOLERANCE_SECONDS = 300
# A header carries one signature per valid secret of the sender; more is abuse, not rotation.
MAX_SIGNATURES_PER_HEADER = 10
MAX_WEBHOOK_ID_LENGTH = 200

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class SignatureError(ServiceError, ValueError):
    """The request is not signed by a current secret; the message is safe to return (401)."""

    default_code = "invalid_signature"
    status = HTTPStatus.UNAUTHORIZED


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None


def sign(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `body`, as sent in the webhook-signature header."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(
    *, secrets: Iterable[str], webhook_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers, with one signature per secret (rotation)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signatures = [
        sign(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
        for secret in secrets
    ]
    return {
        HEADER_ID: webhook_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: " ".join(signatures),
    }


def verify(
    *,
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> str:
    """Check the headers against every current secret; return the webhook id or raise."""
    webhook_id = headers.get(HEADER_ID, "")
    timestamp_text = headers.get(HEADER_TIMESTAMP, "")
    signature_header = headers.get(HEADER_SIGNATURE, "")
    if not webhook_id or not timestamp_text or not signature_header:
        raise SignatureError(
            f"missing {HEADER_ID}, {HEADER_TIMESTAMP} or {HEADER_SIGNATURE} header"
        )
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        raise SignatureError(f"{HEADER_ID} is longer than {MAX_WEBHOOK_ID_LENGTH} characters")
    # The length bound keeps int() below Python's 4300-digit guard (a ValueError, not a 401).
    if not timestamp_text.isascii() or not timestamp_text.isdigit() or len(timestamp_text) > 20:
        raise SignatureError(f"{HEADER_TIMESTAMP} must be whole seconds since the epoch")
    timestamp = int(timestamp_text)
    now = time.time() if now is None else now
    if abs(now - timestamp) > WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureError(
            f"{HEADER_TIMESTAMP} is more than {WEBHOOK_TOLERANCE_SECONDS} s from our clock"
        )
    offered = [
        candidate.split(",", 1)[1]
        for candidate in signature_header.split(" ")[:MAX_SIGNATURES_PER_HEADER]
        if candidate.startswith(f"{SIGNATURE_VERSION},")
    ]
    matched = False
    for secret in secrets:
        expected = sign(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
        expected_bytes = expected.split(",", 1)[1].encode()
        for signature in offered:
            # Every comparison runs to the end, so timing reveals neither which secret nor
            # how many bytes matched.
            matched |= hmac.compare_digest(expected_bytes, signature.encode())
    if not matched:
        raise SignatureError("no valid signature")
    return webhook_id
