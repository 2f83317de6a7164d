"""Faces in an image report, with the real detectors (the shipped network scores each face) and
the default face finder: box, the finder's confidence, 5 landmarks and a probability per face."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image
from skimage import data

from detection.selectors import reset_detection_suite
from moderation.report_document import detection_of
from tests.moderation.conftest import FakeEngines


@pytest.fixture
def real_detection(monkeypatch):
    """Fake matching (no references needed), real detection."""
    from factcheck import selectors as factcheck_selectors

    monkeypatch.setattr(factcheck_selectors, "image_matches", FakeEngines().image_matches)
    reset_detection_suite()
    yield
    reset_detection_suite()


@pytest.mark.slow  # builds the detection suite (torch, checkpoint, MTCNN): a few seconds
@pytest.mark.django_db
def test_analyze_reports_each_face_with_its_landmarks_and_scores(
    real_detection, tmp_path: Path
) -> None:
    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    out = io.StringIO()
    call_command("analyze", str(path), "--json", stdout=out, stderr=io.StringIO())
    document = json.loads(out.getvalue())
    faces = document["detection"]["faces"]
    assert len(faces) == 1
    face = faces[0]
    assert set(face) == {"bbox", "manipulation_probability", "confidence", "landmarks"}
    assert 0.0 <= face["manipulation_probability"] <= 1.0 and face["confidence"] > 0.95
    x, y, w, h = face["bbox"]
    left_eye, right_eye = np.array(face["landmarks"][0]), np.array(face["landmarks"][1])
    assert x < left_eye[0] < right_eye[0] < x + w and y < left_eye[1] < y + h / 2
    # Readers of the stored document still see the face (review UI, overlays).
    read = detection_of(document)
    assert read is not None and read.faces[0].bbox == tuple(face["bbox"])
