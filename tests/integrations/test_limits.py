"""Boundary tests of the named limits of the inbound path (no database needed for most)."""

import json

import pytest

from integrations import fetching
from integrations.inbound import (
    MAX_CAPTION_LENGTH,
    MAX_EXTERNAL_ID_LENGTH,
    PayloadInvalid,
    content_payload_parse,
)
from integrations.safe_http import MAX_URL_LENGTH
from integrations.signing import (
    MAX_SIGNATURES_PER_HEADER,
    MAX_WEBHOOK_ID_LENGTH,
    SignatureError,
    sign,
    verify,
)
from mediastore.images import MAX_UPLOAD_BYTES
from mediastore.services import media_max_bytes
from moderation.metadata import MAX_METADATA_BYTES
from tests.integrations.webhook_helpers import serve_bytes, webhook_fixture

SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
NOW = 1_700_000_000


def body_with(**data) -> bytes:
    document = webhook_fixture("content_created_media_url")
    document["data"].update(data)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("field", "limit"),
    [("id", MAX_EXTERNAL_ID_LENGTH), ("caption", MAX_CAPTION_LENGTH)],
)
def test_text_field_limits(field: str, limit: int) -> None:
    assert content_payload_parse(body_with(**{field: "x" * limit}))
    with pytest.raises(PayloadInvalid, match=f"data.{field}"):
        content_payload_parse(body_with(**{field: "x" * (limit + 1)}))


def test_media_url_length_limit() -> None:
    prefix = "https://cdn.example-sns.test/"
    assert content_payload_parse(body_with(media_url=prefix + "a" * (MAX_URL_LENGTH - len(prefix))))
    with pytest.raises(PayloadInvalid, match="media_url"):
        content_payload_parse(
            body_with(media_url=prefix + "a" * (MAX_URL_LENGTH + 1 - len(prefix)))
        )


def test_metadata_size_limit() -> None:
    overhead = len(json.dumps({"author": {"bio": ""}}))
    fits = {"bio": "x" * (MAX_METADATA_BYTES - overhead)}
    assert (
        content_payload_parse(
            body_with(author=fits, reach=None, permalink=None, posted_at=None)
        ).metadata["author"]
        == fits
    )
    with pytest.raises(PayloadInvalid, match=str(MAX_METADATA_BYTES)):
        content_payload_parse(
            body_with(
                author={"bio": "x" * (MAX_METADATA_BYTES - overhead + 1)},
                reach=None,
                permalink=None,
                posted_at=None,
            )
        )


def _headers(webhook_id: str, signatures: list[str]) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(NOW),
        "webhook-signature": " ".join(signatures),
    }


def test_webhook_id_length_limit() -> None:
    for length, accepted in [(MAX_WEBHOOK_ID_LENGTH, True), (MAX_WEBHOOK_ID_LENGTH + 1, False)]:
        webhook_id = "m" * length
        signature = sign(secret=SECRET, webhook_id=webhook_id, timestamp=NOW, body=b"{}")
        headers = _headers(webhook_id, [signature])
        if accepted:
            assert verify(secrets=[SECRET], headers=headers, body=b"{}", now=NOW)
        else:
            with pytest.raises(SignatureError, match="longer than"):
                verify(secrets=[SECRET], headers=headers, body=b"{}", now=NOW)


def test_only_the_first_signatures_of_a_header_are_considered() -> None:
    good = sign(secret=SECRET, webhook_id="m", timestamp=NOW, body=b"{}")
    junk = ["v1,AAAA"] * (MAX_SIGNATURES_PER_HEADER - 1)
    assert verify(secrets=[SECRET], headers=_headers("m", [*junk, good]), body=b"{}", now=NOW)
    with pytest.raises(SignatureError):
        verify(
            secrets=[SECRET], headers=_headers("m", [*junk, "v1,AAAA", good]), body=b"{}", now=NOW
        )


@pytest.mark.django_db
def test_media_fetch_size_limit(settings, loopback_server, sns, analyses, monkeypatch) -> None:
    """At the limit the bytes are downloaded (and then judged as an image); one more is refused."""
    from integrations.inbound import _inbound_insert
    from integrations.inbound import content_payload_parse as parse

    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True
    settings.VIDEO_MAX_BYTES = 1_000_000  # the larger of the image and video caps applies
    limit = media_max_bytes(allow_video=True)
    assert limit == MAX_UPLOAD_BYTES
    loopback_server.routes["/exact"] = serve_bytes(b"\0" * limit)
    loopback_server.routes["/over"] = serve_bytes(b"\0" * (limit + 1))
    errors = {}
    for name in ("exact", "over"):
        payload = parse(body_with(media_url=f"{loopback_server.url}/{name}"))
        inbound, _ = _inbound_insert(client_id=sns.client.pk, webhook_id=name, payload=payload)
        errors[name] = fetching.inbound_media_fetch(inbound_id=inbound.pk).error
    assert "not an accepted image or video" in errors["exact"]
    assert f"{limit}-byte limit" in errors["over"]
