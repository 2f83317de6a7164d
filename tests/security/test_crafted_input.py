"""Crafted input that was a 500, a wedged analysis or a silent replay (issue 14, items 1, 4, 5,
8, 9): every one is now a 4xx with a stable `code`, and nothing is stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from config.drf import MAX_PAGE_OFFSET, MAX_PAGE_SIZE
from config.jsoninput import JsonRejected, json_loads_strict
from integrations.models import InboundWebhook
from mediastore.images import MAX_UPLOAD_BYTES
from mediastore.models import MediaObject
from mediastore.services import media_max_bytes
from moderation.metadata import MAX_METADATA_KEYS, MAX_REACH, MetadataInvalid, metadata_check
from moderation.models import Submission
from moderation.services import IDEMPOTENCY_KEY_TTL
from tests.integrations.webhook_helpers import fixture_body, signed_post

pytestmark = pytest.mark.django_db
SUBMISSIONS = "/api/v1/submissions/"
HUGE_INTEGER = "1" + "0" * 400  # float() of it overflows: it wedged an analysis in `analyzing`
HUGER_INTEGER = "9" * 5000  # over Python's 4,300-digit int() limit: a ValueError in json.loads


def bearer(credentials) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {credentials.token}")
    return api


def post_metadata(api: APIClient, image: bytes, metadata: str, **fields: str):
    media = SimpleUploadedFile("photo.png", image, content_type="image/png")
    return api.post(SUBMISSIONS, {"media": media, "metadata": metadata, **fields})


def assert_nothing_stored() -> None:
    assert Submission.objects.count() == 0
    assert MediaObject.objects.count() == 0


# --- the strict JSON reader -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (f'{{"reach": {HUGER_INTEGER}}}', "number_out_of_range"),
        (f'{{"reach": {HUGE_INTEGER}}}', "number_out_of_range"),
        ('{"reach": 1e400}', "number_out_of_range"),
        ('{"reach": NaN}', "invalid_json"),
        ('{"reach": -Infinity}', "invalid_json"),
        ('{"a": "x\\u0000y"}', "nul_character"),
        ('{"x\\u0000": 1}', "nul_character"),
        ("[" * 50_000 + "]" * 50_000, "too_deep"),
        ("[" * 33 + "]" * 33, "too_deep"),
        ('{"a": ', "invalid_json"),
        (b"\xff\xfe\x00", "invalid_json"),
    ],
)
def test_strict_json_refuses_what_cannot_be_stored(document, code: str) -> None:
    with pytest.raises(JsonRejected) as refused:
        json_loads_strict(document)
    assert refused.value.code == code


def test_strict_json_accepts_the_boundaries() -> None:
    assert json_loads_strict("[" * 32 + "]" * 32) is not None
    assert json_loads_strict(f'{{"n": {2**63 - 1}, "f": 1.5e300}}') == {
        "n": 2**63 - 1,
        "f": 1.5e300,
    }


# --- metadata at intake ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"reach": 10**400}, "metadata.reach"),
        ({"reach": MAX_REACH + 1}, "metadata.reach"),
        ({"reach": -1}, "metadata.reach"),
        ({"reach": "many"}, "metadata.reach"),
        ({"url": "javascript:alert(document.cookie)"}, "metadata.url"),
        ({"author": {"profile_url": "data:text/html,<b>"}}, "metadata.author.profile_url"),
        ({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}, "metadata.a.b.c.d.e.f"),
        ({f"k{i}": i for i in range(MAX_METADATA_KEYS + 1)}, "metadata"),
        ({"blob": "x" * 20_000}, "metadata"),
        ({"score": float("nan")}, "metadata"),
        ({"note": "a\x00b"}, "metadata.note"),
    ],
)
def test_metadata_check_names_the_field(metadata, field: str) -> None:
    with pytest.raises(MetadataInvalid) as refused:
        metadata_check(metadata)
    assert refused.value.field == field


def test_metadata_check_accepts_ordinary_context() -> None:
    metadata = {
        "reach": MAX_REACH,
        "author": {"handle": "@a", "followers": 182_000},
        "url": "https://sns.example/p/1",
        "tags": ["flood", "city"],
        "score": 0.5,
    }
    assert metadata_check(metadata) == metadata
    assert metadata_check(None) == {}


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        (f'{{"reach": {HUGE_INTEGER}}}', "number_out_of_range"),
        ('{"note": "\\u0000"}', "nul_character"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "too_deep"),
        ('{"url": "javascript:alert(1)"}', "invalid_metadata"),
        ('{"reach": 1e999}', "number_out_of_range"),
    ],
)
def test_api_refuses_crafted_metadata_with_400_and_stores_nothing(
    api_client_credentials, make_image_bytes, metadata: str, code: str
) -> None:
    response = post_metadata(bearer(api_client_credentials), make_image_bytes(), metadata)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert "metadata" in json.dumps(response.json())
    assert_nothing_stored()


# --- the signed webhook --------------------------------------------------------------------------


MEDIA_URL_FIELDS = '"id": "p", "media_url": "https://cdn.example/a.jpg"'


def _raw_body(extra: str = "", *, fields: str = MEDIA_URL_FIELDS) -> bytes:
    """A content.created body written by hand: json.dumps could not produce these."""
    return f'{{"type": "content.created", "data": {{{fields}{extra}}}}}'.encode()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_raw_body(fields='"id": "p\\u0000", "media_url": "https://cdn.example/a.jpg"'),
         "nul_character"),
        (_raw_body(', "x\\u0000": 1'), "nul_character"),
        (_raw_body(', "deep": ' + "[" * 50_000 + "]" * 50_000), "too_deep"),
        (_raw_body(f', "reach": {HUGER_INTEGER}'), "number_out_of_range"),
        (_raw_body(f', "reach": {HUGE_INTEGER}'), "number_out_of_range"),
        (_raw_body(', "permalink": "javascript:alert(1)"'), "invalid_metadata"),
        (_raw_body(', "pad": "' + "x" * 70_000 + '"'), "too_large"),
    ],
)  # fmt: skip
def test_signed_webhook_refuses_crafted_json_with_400_and_stores_nothing(
    client, api_client_credentials, body: bytes, code: str
) -> None:
    response = _signed(client, api_client_credentials, body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert InboundWebhook.objects.count() == 0
    assert_nothing_stored()


def _signed(client, credentials, body: bytes):
    return signed_post(client, credentials.client.slug, body, secrets=[credentials.webhook_secret])


def test_signed_webhook_with_base64_media_and_huge_reach_stores_nothing(
    client, api_client_credentials
) -> None:
    body = fixture_body("content_created_base64")
    body = body.replace(b'"reach": ', b'"reach": ' + HUGE_INTEGER.encode() + b', "r": ', 1)
    assert HUGE_INTEGER.encode() in body
    response = _signed(client, api_client_credentials, body)
    assert response.status_code == 400 and response.json()["code"] == "number_out_of_range"
    assert_nothing_stored()


# --- list limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SUBMISSIONS, "/api/v1/references/"])
@pytest.mark.parametrize(
    "query",
    [
        "limit=9223372036854775809",
        f"limit={MAX_PAGE_SIZE + 1}",
        "limit=0",
        "limit=-1",
        "limit=abc",
        f"offset={MAX_PAGE_OFFSET + 1}",
        "offset=9223372036854775809",
        "offset=-5",
        "limit=" + "9" * 100_000,
    ],
)
def test_out_of_range_pages_are_400(personas, path: str, query: str) -> None:
    api = APIClient()
    api.force_authenticate(personas["admin"])
    response = api.get(f"{path}?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_pagination"


def test_page_size_is_capped_and_the_boundary_is_served(personas) -> None:
    api = APIClient()
    api.force_authenticate(personas["admin"])
    assert (
        api.get(f"{SUBMISSIONS}?limit={MAX_PAGE_SIZE}&offset={MAX_PAGE_OFFSET}").status_code == 200
    )
    assert api.get(SUBMISSIONS).status_code == 200


# --- idempotency covers the whole request --------------------------------------------------------


@pytest.mark.parametrize(
    "changed",
    [{"text": "other caption"}, {"external_id": "p-2"}, {"metadata": '{"reach": 5}'},
     {"platform": "other"}],
)  # fmt: skip
def test_same_key_with_other_parameters_is_409(
    api_client_credentials, make_image_bytes, changed: dict[str, str]
) -> None:
    api = bearer(api_client_credentials)
    first = {"text": "caption", "external_id": "p-1", "metadata": '{"reach": 1}', "platform": "x"}
    image = make_image_bytes()
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": "key-1"}
    media = SimpleUploadedFile("a.png", image, content_type="image/png")
    assert api.post(SUBMISSIONS, {"media": media, **first}, **headers).status_code == 202
    media = SimpleUploadedFile("a.png", image, content_type="image/png")
    again = api.post(SUBMISSIONS, {"media": media, **first, **changed}, **headers)
    assert again.status_code == 409 and again.json()["code"] == "idempotency_key_reused"
    assert Submission.objects.count() == 1


def test_same_key_and_same_request_replays(api_client_credentials, make_image_bytes) -> None:
    api = bearer(api_client_credentials)
    image = make_image_bytes()
    answers = [
        api.post(
            SUBMISSIONS,
            {"media": SimpleUploadedFile("a.png", image), "text": "t", "metadata": '{"b":1,"a":2}'},
            HTTP_IDEMPOTENCY_KEY="key-1",
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[1]["Idempotent-Replayed"] == "true"
    assert answers[0].json()["id"] == answers[1].json()["id"]


def test_an_expired_key_makes_a_new_submission(api_client_credentials, make_image_bytes) -> None:
    api = bearer(api_client_credentials)

    def post(seed: int):
        media = SimpleUploadedFile("a.png", make_image_bytes(seed=seed))
        return api.post(SUBMISSIONS, {"media": media}, HTTP_IDEMPOTENCY_KEY="key-1")

    first = post(1)
    Submission.objects.filter(pk=first.json()["id"]).update(
        created_at=Submission.objects.get().created_at - IDEMPOTENCY_KEY_TTL - timedelta(seconds=1)
    )
    second = post(2)  # another file: within the TTL this would be a 409
    assert second.status_code == 202 and "Idempotent-Replayed" not in second
    assert second.json()["id"] != first.json()["id"]
    assert Submission.objects.get(pk=first.json()["id"]).idempotency_key == ""


# --- refusals carry a code -----------------------------------------------------------------------


def test_oversized_upload_is_413_with_a_code(api_client_credentials) -> None:
    media = SimpleUploadedFile("big.jpg", b"\xff" * (MAX_UPLOAD_BYTES + 1))
    response = bearer(api_client_credentials).post(SUBMISSIONS, {"media": media})
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "too_large"
    assert_nothing_stored()


def test_declared_oversized_body_is_413_before_it_is_read(api_client_credentials) -> None:
    response = bearer(api_client_credentials).generic(
        "POST",
        SUBMISSIONS,
        b"--x--",  # type: ignore[arg-type]  # sent as is; DRF's stubs say str
        content_type="multipart/form-data; boundary=x",
        HTTP_CONTENT_LENGTH=str(media_max_bytes(allow_video=True) * 2),
        CONTENT_LENGTH=str(media_max_bytes(allow_video=True) * 2),
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"media": SimpleUploadedFile("empty.jpg", b"")}, "empty"),
        ({}, "required"),
        ({"media": SimpleUploadedFile("a.png", b"not an image")}, "not_an_image"),
    ],
)
def test_every_refusal_carries_a_code(api_client_credentials, data, code: str) -> None:
    response = bearer(api_client_credentials).post(SUBMISSIONS, data)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


def test_api_errors_outside_validation_carry_a_code(api_client_credentials) -> None:
    api = bearer(api_client_credentials)
    assert api.get(f"{SUBMISSIONS}999999/").json()["code"] == "not_found"
    assert APIClient().get(SUBMISSIONS).json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("[" * 50_000 + "]" * 50_000, "too_deep"),
        ('{"title": "t\\u0000"}', "nul_character"),
        ('{"title": ' + HUGER_INTEGER + "}", "number_out_of_range"),
    ],
)
def test_json_api_bodies_are_parsed_strictly(personas, body: str, code: str) -> None:
    api = APIClient()
    api.force_authenticate(personas["fact_checker"])
    response = api.generic("POST", "/api/v1/cases/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
