"""/api/v1/submissions/: personas and two API clients make every view an access test."""

import io
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from PIL import Image
from rest_framework.test import APIClient

from mediastore.models import MediaObject
from moderation.models import Report, Submission

from .conftest import match_item

pytestmark = pytest.mark.django_db
URL = "/api/v1/submissions/"


def streamed(response: object) -> bytes:
    """The body of a streamed (file) response."""
    assert isinstance(response, StreamingHttpResponse)
    return response.getvalue()


def bearer(credentials) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {credentials.token}")
    return api


def person(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def upload(content: bytes, name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def analysed(engines, api_client_credentials, make_image_bytes, django_capture_on_commit_callbacks):
    """Client A's submission, analysed (edited copy)."""
    engines.matches = [match_item(edited=True)]
    with django_capture_on_commit_callbacks(execute=True):
        response = bearer(api_client_credentials).post(
            URL, {"media": upload(make_image_bytes(seed=2)), "external_id": "p-1"}
        )
    assert response.status_code == 202, response.content
    return Submission.objects.get(pk=response.json()["id"])


def test_post_answers_202_with_the_id_and_urls(
    engines, api_client_credentials, make_image_bytes
) -> None:
    response = bearer(api_client_credentials).post(
        URL,
        {
            "media": upload(make_image_bytes()),
            "text": "look at this",
            "external_id": "sns-42",
            "platform": "Example",
            "metadata": '{"reach": 1200, "author": {"handle": "@a"}}',
        },
    )
    assert response.status_code == 202, response.content
    body = response.json()
    submission = Submission.objects.get(pk=body["id"])
    assert body["status"] == "received"
    assert body["url"].endswith(f"/api/v1/submissions/{submission.pk}/")
    assert response["Location"] == body["url"]
    assert body["report_url"].endswith(f"/api/v1/submissions/{submission.pk}/report/")
    assert submission.client == api_client_credentials.client
    assert (submission.text, submission.external_id, submission.platform) == (
        "look at this", "sns-42", "Example",
    )  # fmt: skip
    assert submission.metadata["reach"] == 1200 and submission.source == "api"


def test_idempotency_key_header_replays_the_first_answer(
    engines, api_client_credentials, make_image_bytes
) -> None:
    api = bearer(api_client_credentials)
    content = make_image_bytes(seed=9)
    first = api.post(URL, {"media": upload(content)}, HTTP_IDEMPOTENCY_KEY="abc")
    second = api.post(URL, {"media": upload(content)}, HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    other = api.post(URL, {"media": upload(make_image_bytes(seed=10))}, HTTP_IDEMPOTENCY_KEY="abc")
    assert other.status_code == 409 and "different request" in other.json()["detail"]
    assert Submission.objects.count() == 1


def _bomb() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, format="PNG")
    return buffer.getvalue()


def _truncated() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), np.uint8)).save(
        buffer, format="JPEG"
    )
    return buffer.getvalue()[:3000]


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        ({}, 400, "No file was submitted"),
        ({"media": "plain text"}, 400, "not a file"),
        ({"media": "EMPTY"}, 400, "empty"),
        ({"media": b"hello, I am text"}, 400, "not a readable image"),
        ({"media": b"%PDF-1.7\n%binary"}, 400, "not a readable image"),
        ({"media": "BOMB"}, 400, "more than 50000000 pixels"),
        ({"media": "TRUNCATED"}, 400, "corrupt or truncated"),
        ({"media": "PNG", "metadata": "[1, 2]"}, 400, "metadata must be a JSON object"),
        ({"media": "PNG", "external_id": "x" * 201}, 400, "no more than 200"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_stores_nothing(
    engines, api_client_credentials, make_image_bytes, data, status, words
) -> None:
    special = {
        "EMPTY": b"",
        "BOMB": _bomb(),
        "TRUNCATED": _truncated(),
        "PNG": make_image_bytes(),
    }
    if isinstance(data.get("media"), bytes) or data.get("media") in special:
        data = {**data, "media": upload(special.get(data["media"], data["media"]))}
    response = bearer(api_client_credentials).post(URL, data)
    assert response.status_code == status, response.content
    assert words in response.content.decode()
    assert Submission.objects.count() == 0 and MediaObject.objects.count() == 0
    assert stored_files() == []


def test_wrong_content_type_body_is_415(engines, api_client_credentials) -> None:
    response = bearer(api_client_credentials).post(URL, {"media": "x"}, format="json")
    assert response.status_code == 415
    assert Submission.objects.count() == 0


def test_oversized_upload_is_413(
    engines, api_client_credentials, make_image_bytes, monkeypatch
) -> None:
    content = make_image_bytes()
    monkeypatch.setattr("mediastore.images.MAX_UPLOAD_BYTES", len(content) - 1)
    response = bearer(api_client_credentials).post(URL, {"media": upload(content)})
    assert response.status_code == 413 and "limit" in response.json()["media"][0]
    assert Submission.objects.count() == 0 and stored_files() == []


def test_clients_never_see_each_others_submissions(
    analysed, api_client_credentials, second_client
) -> None:
    owner, other = bearer(api_client_credentials), bearer(second_client)
    assert [row["id"] for row in owner.get(URL).json()["results"]] == [analysed.pk]
    assert other.get(URL).json()["results"] == []
    for path in ("", "report/", "artifacts/edit_mask.png"):
        assert other.get(f"{URL}{analysed.pk}/{path}").status_code == 404
        assert owner.get(f"{URL}{analysed.pk}/{path}").status_code == 200
    assert other.post(f"{URL}{analysed.pk}/retry/").status_code == 404
    assert other.get(URL, {"external_id": "p-1"}).json()["results"] == []
    assert owner.get(URL, {"external_id": "p-1"}).json()["count"] == 1
    assert owner.get(URL, {"external_id": "nope"}).json()["count"] == 0


def test_staff_with_view_permission_see_all_and_outsiders_nothing(analysed, personas) -> None:
    for name in ("moderator", "fact_checker", "admin"):
        listing = person(personas[name]).get(URL)
        assert [row["id"] for row in listing.json()["results"]] == [analysed.pk], name
    outsider = person(personas["outsider"])
    assert outsider.get(URL).status_code == 403
    assert outsider.get(f"{URL}{analysed.pk}/report/").status_code == 403
    assert outsider.get(f"{URL}{analysed.pk}/artifacts/edit_mask.png").status_code == 403
    assert APIClient().get(URL).status_code == 401
    # Moderators review; they do not submit through the API.
    assert person(personas["moderator"]).post(URL, {}).status_code == 403


def test_status_and_report_documents(analysed, api_client_credentials) -> None:
    api = bearer(api_client_credentials)
    detail = api.get(f"{URL}{analysed.pk}/").json()
    assert detail["status"] == "analyzed" and detail["report"]["label"] == "edited_copy"
    assert detail["report"]["version"] == 1 and detail["media"]["mime"] == "image/png"
    report = api.get(f"{URL}{analysed.pk}/report/")
    assert report["Cache-Control"] == "private, no-cache"
    body = report.json()
    assert body["schema"] == "report/1" and body["verdict"]["label"] == "edited_copy"
    assert body["report_version"] == 1
    assert body["artifacts"]["edit_mask"].endswith(
        f"/api/v1/submissions/{analysed.pk}/artifacts/edit_mask.png?version=1"
    )
    assert api.get(f"{URL}{analysed.pk}/report/", {"version": 1}).json()["report_version"] == 1
    missing = api.get(f"{URL}{analysed.pk}/report/", {"version": 7})
    assert missing.status_code == 404 and "versions: 1" in missing.json()["detail"]
    assert api.get(f"{URL}{analysed.pk}/report/", {"version": "x"}).status_code == 400


def test_report_is_409_with_a_clear_message_until_analysed_and_when_failed(
    engines, api_client_credentials, make_image_bytes
) -> None:
    api = bearer(api_client_credentials)
    submitted = api.post(URL, {"media": upload(make_image_bytes())}).json()
    pending = api.get(f"{URL}{submitted['id']}/report/")
    assert pending.status_code == 409
    assert pending.json() == {
        "detail": "the submission is received; the report is ready once its status is analyzed",
        "status": "received",
    }
    Submission.objects.filter(pk=submitted["id"]).update(
        status="failed", failure_reason="analysis failed: boom"
    )
    failed = api.get(f"{URL}{submitted['id']}/report/")
    assert failed.status_code == 409 and "analysis failed: boom" in failed.json()["detail"]
    assert f"/api/v1/submissions/{submitted['id']}/retry/" in failed.json()["detail"]


def test_artifacts_are_png_nosniff_private_and_only_known_kinds(
    analysed, api_client_credentials
) -> None:
    api = bearer(api_client_credentials)
    response = api.get(f"{URL}{analysed.pk}/artifacts/edit_mask.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    mask = np.asarray(Image.open(io.BytesIO(streamed(response))))
    assert set(np.unique(mask)) <= {0, 255} and mask.max() == 255
    accept_png = api.get(f"{URL}{analysed.pk}/artifacts/edit_overlay.png", HTTP_ACCEPT="image/png")
    assert accept_png.status_code == 200
    assert api.get(f"{URL}{analysed.pk}/artifacts/faces_overlay.png").status_code == 404
    unknown = api.get(f"{URL}{analysed.pk}/artifacts/secrets.png")
    assert unknown.status_code == 404 and "unknown artifact" in unknown.json()["detail"]
    # No public URL: media files are not served by the site.
    artifact = Report.objects.get(submission=analysed).artifacts.first()
    assert artifact is not None
    name = artifact.file.name
    assert APIClient().get(f"/{settings.MEDIA_URL}{name}").status_code == 404


def test_retry_through_the_api(
    engines, analysed, api_client_credentials, personas, django_capture_on_commit_callbacks
) -> None:
    api = bearer(api_client_credentials)
    refused = api.post(f"{URL}{analysed.pk}/retry/")
    assert refused.status_code == 409 and "only a failed analysis" in refused.json()["detail"]
    Submission.objects.filter(pk=analysed.pk).update(status="failed", failure_reason="x")
    assert person(personas["fact_checker"]).post(f"{URL}{analysed.pk}/retry/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        accepted = api.post(f"{URL}{analysed.pk}/retry/")
    assert accepted.status_code == 202 and accepted.json()["status"] == "received"
    analysed.refresh_from_db()
    assert analysed.status == "analyzed"
    assert list(Report.objects.filter(submission=analysed).values_list("version", flat=True)) == [
        2,
        1,
    ]


def test_openapi_schema_describes_the_submissions_api(api_client_credentials) -> None:
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/submissions/" in paths
    assert "/api/v1/submissions/{id}/report/" in paths
    assert "/api/v1/submissions/{id}/artifacts/{kind}.png" in paths
    assert "multipart/form-data" in paths["/api/v1/submissions/"]["post"]["requestBody"]["content"]
