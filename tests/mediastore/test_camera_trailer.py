"""Real photos with data after the JPEG (issue 14, item 13) are accepted by every intake, the
primary image is what gets analysed, and the report's metadata says how much followed it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image
from rest_framework.test import APIClient

from detection import selectors as detection_selectors
from mediastore.images import inspect_image, load_rgb
from moderation.models import Submission
from tests.moderation.conftest import FakeEngines

# Debian's mate-backgrounds: a 2560x1920 camera JPEG with 23,299 bytes after its EOI.
WOOD = Path("/usr/share/backgrounds/mate/nature/Wood.jpg")
WOOD_TRAILER_BYTES = 23_299
needs_wood = pytest.mark.skipif(
    not WOOD.is_file(), reason=f"{WOOD} is absent (Debian package mate-backgrounds)"
)


@pytest.fixture
def engines_with_real_metadata(monkeypatch) -> FakeEngines:
    """Fake matching and detection (fast); the report's metadata is the real one."""
    from factcheck import selectors as factcheck_selectors

    fake = FakeEngines()
    monkeypatch.setattr(factcheck_selectors, "image_matches", fake.image_matches)
    monkeypatch.setattr(detection_selectors, "image_detection", fake.image_detection)
    return fake


def camera_jpeg() -> tuple[bytes, int]:
    """A deterministic JPEG with an EXIF block and a 23 KB binary trailer, and the trailer size."""
    pixels = np.random.default_rng(8).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "Provenant Camera Co"  # Make
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif)
    trailer = bytes(512) + np.random.default_rng(9).bytes(23_000)
    return buffer.getvalue() + trailer, len(trailer)


@needs_wood
def test_wood_jpg_is_accepted_by_the_mediastore_gate() -> None:
    content = WOOD.read_bytes()
    info = inspect_image(content)
    assert (info.format, info.width, info.height) == ("JPEG", 2560, 1920)
    assert load_rgb(content).shape == (1920, 2560, 3)


@needs_wood
@pytest.mark.django_db
def test_wood_jpg_through_the_api_reports_its_trailer(
    engines_with_real_metadata, api_client_credentials, django_capture_on_commit_callbacks
) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_credentials.token}")
    upload = SimpleUploadedFile("Wood.jpg", WOOD.read_bytes(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/submissions/", {"media": upload}, format="multipart")
    assert response.status_code == 202, response.content
    submission = Submission.objects.get(pk=response.json()["id"])
    assert submission.media.mime == "image/jpeg" and submission.media.size == WOOD.stat().st_size
    report = api.get(f"/api/v1/submissions/{submission.pk}/report/")
    assert report.status_code == 200, report.content
    metadata = report.json()["metadata"]
    assert metadata["trailing_bytes"] == WOOD_TRAILER_BYTES
    assert (metadata["width"], metadata["height"], metadata["format"]) == (2560, 1920, "JPEG")


@needs_wood
@pytest.mark.django_db
def test_wood_jpg_through_analyze_json_reports_its_trailer(engines_with_real_metadata) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("analyze", str(WOOD), "--json", stdout=out, stderr=err)
    document = json.loads(out.getvalue())
    assert document["input"] == str(WOOD)
    assert document["metadata"]["trailing_bytes"] == WOOD_TRAILER_BYTES
    assert document["metadata"]["width"] == 2560


@pytest.mark.django_db
def test_a_generated_camera_jpeg_reports_its_trailer(engines_with_real_metadata, tmp_path) -> None:
    # The same path without the Debian package: the trailer is counted, the EXIF still read.
    content, trailer = camera_jpeg()
    path = tmp_path / "camera.jpg"
    path.write_bytes(content)
    out = io.StringIO()
    call_command("analyze", str(path), "--json", stdout=out, stderr=io.StringIO())
    metadata = json.loads(out.getvalue())["metadata"]
    assert metadata["trailing_bytes"] == trailer
    assert metadata["exif"]["make"] == "Provenant Camera Co"
    assert (metadata["width"], metadata["height"]) == (128, 96)
