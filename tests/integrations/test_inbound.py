"""POST /api/v1/webhooks/inbound/{client}/: signatures, tolerance, validation, dedupe, size."""

import base64
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import WebhookSecret
from integrations import inbound as inbound_module
from integrations.endpoints import webhook_secret_rotate
from integrations.inbound import MAX_INBOUND_BODY_BYTES
from integrations.models import InboundWebhook
from integrations.signing import secret_key, signed_headers
from moderation.models import Submission
from tests.integrations.webhook_helpers import (
    fixture_body,
    inbound_url,
    signed_post,
    webhook_fixture,
)

pytestmark = pytest.mark.django_db


def test_base64_content_becomes_a_submission(client, sns, analyses) -> None:
    body = fixture_body("content_created_base64")
    response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 202, response.content
    document = response.json()
    assert document["duplicate"] is False
    assert document["status"] == "submitted"
    submission = Submission.objects.get(pk=document["submission_id"])
    data = webhook_fixture("content_created_base64")["data"]
    assert submission.source == Submission.Source.WEBHOOK
    assert submission.client == sns.client
    assert submission.external_id == data["id"]
    assert submission.text == data["caption"]
    assert submission.platform == sns.client.name
    assert submission.metadata == {"author": data["author"], "reach": data["reach"]}
    assert analyses.ids() == [submission.pk]
    stored = InboundWebhook.objects.get()
    assert "media_base64" not in stored.payload["data"]


def test_a_base64_video_becomes_a_video_submission(client, sns, analyses, videos) -> None:
    data = {"id": "clip-9", "media_base64": base64.b64encode(videos["repost"]).decode()}
    body = json.dumps({"type": "content.created", "data": data}).encode()
    response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 202, response.content
    submission = Submission.objects.get(pk=response.json()["submission_id"])
    assert (submission.media.kind, submission.media.format) == ("video", "MP4")
    assert analyses.ids() == [submission.pk]


def test_numeric_content_id_is_accepted_as_text(client, sns, analyses) -> None:
    body = fixture_body("content_created_minimal")
    response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 202
    assert Submission.objects.get().external_id == "8812736"


@pytest.mark.parametrize("part", ["body", "webhook_id", "timestamp", "secret"])
@pytest.mark.parametrize("position", [0, 7, -1])
def test_any_flipped_byte_is_rejected(client, sns, analyses, part: str, position: int) -> None:
    body = fixture_body("content_created_base64")
    webhook_id = "msg_2Ks8vQ1f9ZtYb3"
    timestamp = int(time.time())
    headers = signed_headers(
        secrets=[sns.webhook_secret], webhook_id=webhook_id, body=body, timestamp=timestamp
    )

    def flip(value: bytes) -> bytes:
        index = position % len(value)
        return value[:index] + bytes([value[index] ^ 0x01]) + value[index + 1 :]

    if part == "body":
        body = flip(body)
    elif part == "webhook_id":
        headers["webhook-id"] = flip(webhook_id.encode()).decode()
    elif part == "timestamp":
        # The low bit of a digit flips it to another digit; the last one stays in tolerance.
        headers["webhook-timestamp"] = flip(str(timestamp).encode()).decode()
    else:
        wrong = signed_headers(
            secrets=[_flip_secret(sns.webhook_secret, position)],
            webhook_id=webhook_id,
            body=body,
            timestamp=timestamp,
        )
        headers["webhook-signature"] = wrong["webhook-signature"]
    response = client.post(
        inbound_url(sns.client.slug), data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 401, response.content
    assert not Submission.objects.exists()
    assert not InboundWebhook.objects.exists()


def _flip_secret(secret: str, position: int) -> str:
    key = secret_key(secret)
    index = position % len(key)
    flipped = key[:index] + bytes([key[index] ^ 0x01]) + key[index + 1 :]
    return "whsec_" + base64.b64encode(flipped).decode()


@pytest.mark.parametrize(("offset", "status"), [(299, 202), (-299, 202), (301, 401), (-301, 401)])
def test_timestamp_tolerance_boundary(client, sns, analyses, offset: int, status: int) -> None:
    body = fixture_body("content_created_base64")
    response = signed_post(
        client,
        sns.client.slug,
        body,
        secrets=[sns.webhook_secret],
        timestamp=int(time.time()) + offset,
    )
    assert response.status_code == status, response.content
    assert Submission.objects.count() == (1 if status == 202 else 0)


def test_rotation_keeps_old_and_new_secrets_valid_until_the_old_expires(
    client, sns, analyses
) -> None:
    old = sns.webhook_secret
    new = webhook_secret_rotate(client=sns.client, expire_old_in=timedelta(hours=1))
    body = fixture_body("content_created_base64")
    for number, secrets in enumerate([[old], [new], [new, old]]):
        response = signed_post(
            client, sns.client.slug, body, secrets=secrets, webhook_id=f"msg_rot_{number}"
        )
        assert response.status_code in (200, 202), (secrets, response.content)
    WebhookSecret.objects.filter(secret=old).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = signed_post(client, sns.client.slug, body, secrets=[old], webhook_id="msg_rot_old")
    assert response.status_code == 401
    response = signed_post(client, sns.client.slug, body, secrets=[new], webhook_id="msg_rot_new")
    assert response.status_code in (200, 202)


def test_rotation_with_zero_overlap_expires_the_old_secret_now(client, sns, analyses) -> None:
    webhook_secret_rotate(client=sns.client, expire_old_in=timedelta(0))
    body = fixture_body("content_created_base64")
    response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 401


def test_same_delivery_twice_creates_one_submission(client, sns, analyses) -> None:
    body = fixture_body("content_created_base64")
    first = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    second = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["submission_id"] == first.json()["submission_id"]
    assert Submission.objects.count() == 1
    assert analyses.ids() == [first.json()["submission_id"]]


def test_same_webhook_id_from_another_client_is_not_a_duplicate(client, sns, analyses) -> None:
    from accounts.services import api_client_create

    other = api_client_create(name="Other SNS")
    body = fixture_body("content_created_base64")
    assert (
        signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret]).status_code == 202
    )
    response = signed_post(client, other.client.slug, body, secrets=[other.webhook_secret])
    assert response.status_code == 202
    assert Submission.objects.count() == 2


def test_another_clients_secret_is_rejected(client, sns, analyses) -> None:
    from accounts.services import api_client_create

    other = api_client_create(name="Other SNS")
    body = fixture_body("content_created_base64")
    response = signed_post(client, sns.client.slug, body, secrets=[other.webhook_secret])
    assert response.status_code == 401


@pytest.mark.parametrize("slug", ["no-such-client", "inactive"])
def test_unknown_or_inactive_client_gets_401(client, sns, analyses, slug: str) -> None:
    if slug == "inactive":
        sns.client.is_active = False
        sns.client.save()
        slug = sns.client.slug
    body = fixture_body("content_created_base64")
    response = signed_post(client, slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 401


def test_oversized_body_gets_413_and_nothing_is_stored(client, sns, analyses) -> None:
    document = webhook_fixture("content_created_base64")
    body = json.dumps(document).encode()
    body += b" " * (MAX_INBOUND_BODY_BYTES + 1 - len(body))
    assert len(body) == MAX_INBOUND_BODY_BYTES + 1
    response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 413
    assert not InboundWebhook.objects.exists()
    assert not Submission.objects.exists()


def test_body_at_the_size_limit_is_accepted(client, sns, analyses) -> None:
    body = fixture_body("content_created_base64")
    body += b" " * (MAX_INBOUND_BODY_BYTES - len(body))
    assert len(body) == MAX_INBOUND_BODY_BYTES
    response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 202


def test_declared_length_over_the_limit_is_refused_before_reading(client, sns, monkeypatch) -> None:
    monkeypatch.setattr(inbound_module, "MAX_INBOUND_BODY_BYTES", 10)
    from integrations import views

    monkeypatch.setattr(views, "MAX_INBOUND_BODY_BYTES", 10)
    response = signed_post(client, sns.client.slug, b'{"type": "x"}', secrets=[sns.webhook_secret])
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("invalid_both_media", "exactly one of media_url and media_base64"),
        ("invalid_no_media", "exactly one of media_url and media_base64"),
        ("invalid_missing_id", "data.id"),
        ("invalid_type", "type must be"),
        ("invalid_reach", "data.reach"),
        ("invalid_base64", "not valid base64"),
        ("invalid_media_url_scheme", "http(s) URL"),
        ("invalid_not_image", "data.media_base64"),
    ],
)
def test_invalid_payloads_get_400_with_a_clear_message(
    client, sns, analyses, fixture: str, message: str
) -> None:
    body = json.dumps(webhook_fixture(fixture)).encode()
    response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not InboundWebhook.objects.exists()
    assert not Submission.objects.exists()


def test_body_that_is_not_json_gets_400(client, sns) -> None:
    response = signed_post(client, sns.client.slug, b"\xff\xfe", secrets=[sns.webhook_secret])
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert response.json()["code"] == "invalid_json"


def test_only_post_is_allowed(client, sns) -> None:
    assert client.get(inbound_url(sns.client.slug)).status_code == 405


def test_media_url_is_stored_and_fetched_by_a_task(
    client, sns, analyses, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from integrations.tasks import fetch_inbound_media

    queued: list[int] = []
    monkeypatch.setattr(fetch_inbound_media, "delay", queued.append)
    body = fixture_body("content_created_media_url")
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
    assert response.status_code == 202
    inbound = InboundWebhook.objects.get()
    assert response.json()["status"] == "fetching"
    assert inbound.media_url == webhook_fixture("content_created_media_url")["data"]["media_url"]
    assert queued == [inbound.pk]
    assert not Submission.objects.exists()


def test_chunked_bodies_are_refused_with_411(client, sns) -> None:
    body = fixture_body("content_created_base64")
    response = signed_post(
        client, sns.client.slug, body, secrets=[sns.webhook_secret],
        headers={"Transfer-Encoding": "chunked"},
    )  # fmt: skip
    assert response.status_code == 411
    assert not InboundWebhook.objects.exists()
