"""image_analyze: decode once with the intake rules, run both engines, build report/1."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from detection.selectors import TEXT_IN_IMAGE_MODEL
from mediastore.images import MAX_UPLOAD_BYTES, ImageRejected
from moderation.pipeline import REPORT_SCHEMA, image_analyze, image_decode

from .conftest import match_item

# The pipeline reads published fact-check cases (moderation.fact_checks) after matching.
pytestmark = pytest.mark.django_db


def _encode(array: np.ndarray, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=image_format, **options)
    return buffer.getvalue()


@pytest.fixture
def photo() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)


def test_report_document_has_the_contract_sections(engines, photo) -> None:
    engines.matches = [match_item(edited=True)]
    analysis = image_analyze(content=_encode(photo, "PNG"), input_name="x.png", text="caption")
    document = analysis.document
    json.dumps(document)  # plain JSON all the way down
    assert document["schema"] == REPORT_SCHEMA and document["input"] == "x.png"
    assert document["verdict"]["label"] == "edited_copy"
    # Each match carries the published cases on its original (none here), else unchanged.
    assert document["matches"] == [{**match, "fact_checks": []} for match in engines.matches]
    assert document["fact_checks"] == [] and document["related_fact_checks"] == []
    assert document["sensitive_regions"] == []
    assert document["detection"]["detectors"][0]["name"] == "fake"
    assert document["metadata"] == {
        "width": 64, "height": 48, "format": "PNG", "exif": {}, "c2pa": None,
    }  # fmt: skip
    assert document["timings_ms"]["total"] >= document["timings_ms"]["decode"]
    assert all(isinstance(v, float) for v in document["timings_ms"].values())
    assert document["models"] == {"pdq": "fake", "fake": "1", **TEXT_IN_IMAGE_MODEL}
    assert document["text_in_image"] == {"text": "", "lines": []}
    assert sorted(engines.calls) == ["image_detection", "image_matches"]  # once each
    kinds = set(analysis.artifact_images())
    assert kinds == {
        "edit_mask", "edit_overlay", "aligned_reference", "forensic_map", "forensic_overlay",
    }  # fmt: skip
    assert analysis.edit_mask is not None and analysis.edit_mask.shape == photo.shape[:2]


def test_no_match_means_no_edit_artifacts_and_faces_add_their_overlay(engines, photo) -> None:
    engines.faces = [{"bbox": [1, 1, 10, 10], "manipulation_probability": 0.3}]
    analysis = image_analyze(content=_encode(photo, "PNG"), input_name="x")
    assert set(analysis.artifact_images()) == {"forensic_map", "forensic_overlay", "faces_overlay"}


def test_exif_orientation_is_applied_before_the_engines_see_the_image(engines) -> None:
    tall = np.zeros((40, 20, 3), np.uint8)
    tall[:10] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    content = _encode(tall, "JPEG", exif=exif.tobytes())
    decoded = image_decode(content)
    assert decoded.image.shape[:2] == (20, 40)
    analysis = image_analyze(content=content, input_name="rotated.jpg")
    assert analysis.document["metadata"]["width"] == 40


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty"),
        (b"GIF89a but not really", "corrupt"),  # a GIF signature, cut inside the header
        (b"%PDF-1.4 hello", "not_an_image"),
    ],
)
def test_bad_bytes_are_refused_before_any_engine_runs(engines, content, code) -> None:
    with pytest.raises(ImageRejected) as error:
        image_analyze(content=content, input_name="bad")
    assert error.value.code == code
    assert engines.calls == []


def test_formats_outside_the_allowlist_are_refused(engines, photo) -> None:
    with pytest.raises(ImageRejected, match="format TIFF is not accepted") as error:
        image_decode(_encode(photo, "TIFF"))
    assert error.value.code == "unsupported_format"


def test_upload_size_cap_boundary(engines, photo, monkeypatch) -> None:
    content = _encode(photo, "PNG")
    monkeypatch.setattr("mediastore.images.MAX_UPLOAD_BYTES", len(content))
    assert image_decode(content).image.shape == photo.shape  # exactly at the cap: accepted
    monkeypatch.setattr("mediastore.images.MAX_UPLOAD_BYTES", len(content) - 1)
    with pytest.raises(ImageRejected) as error:
        image_decode(content)
    assert error.value.code == "too_large"
    assert MAX_UPLOAD_BYTES > 1024 * 1024


def test_decompression_bomb_is_refused_without_decoding(engines) -> None:
    # A 1-bit 12,000 x 12,000 PNG is tiny on disk but 144 M pixels once decoded.
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")
    with pytest.raises(ImageRejected) as error:
        image_analyze(content=bomb.getvalue(), input_name="bomb.png")
    assert error.value.code == "too_many_pixels"
    assert engines.calls == []


def test_truncated_image_is_refused(engines, photo) -> None:
    content = _encode(np.repeat(np.repeat(photo, 8, 0), 8, 1), "JPEG")
    with pytest.raises(ImageRejected):
        image_analyze(content=content[: len(content) // 3], input_name="cut.jpg")


def test_explicit_regions_are_reported(engines, photo) -> None:
    engines.sensitive = [{"bbox": [4, 5, 20, 10], "label": "breast", "score": 0.81}]
    document = image_analyze(content=_encode(photo, "PNG"), input_name="x").document
    assert document["sensitive_regions"] == engines.sensitive
    assert "sensitive_regions" in document["timings_ms"]


def test_text_in_image_is_reported_with_every_signals_cost(engines, photo) -> None:
    engines.text_lines = ["Breaking news", "the bridge collapsed"]
    document = image_analyze(content=_encode(photo, "PNG"), input_name="x").document
    assert document["text_in_image"]["text"] == "Breaking news\nthe bridge collapsed"
    assert [line["text"] for line in document["text_in_image"]["lines"]] == engines.text_lines
    timings = document["timings_ms"]
    for step in (
        "decode",
        "factcheck",
        "detection",
        "sensitive_regions",
        "text_in_image",
        "metadata",
        "fact_checks",
        "related_fact_checks",
        "related_fact_checks_text_in_image",
        "total",
    ):
        assert isinstance(timings[step], float), step
    assert "detection_artifacts" not in timings  # nothing encoded unless asked
    encoded = image_analyze(content=_encode(photo, "PNG"), input_name="x", encode_artifacts=True)
    assert encoded.document["timings_ms"]["detection_artifacts"] >= 0
