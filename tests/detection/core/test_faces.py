import builtins
import logging
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from detection.core.alignment import CANONICAL_LEFT_EYE, CANONICAL_RIGHT_EYE, eye_alignment
from detection.core.faces import (
    MAX_FACES,
    CascadeFinder,
    Face,
    analyze_faces,
    build_face_finder,
    cluster_boxes,
    face_crop,
    scaled_face_dict,
)
from detection.core.mtcnn import MtcnnFinder

# Eileen Collins' eyes in the 512 px astronaut sample, located by hand on a 3x enlargement.
ASTRONAUT_EYES = ((205.0, 102.0), (247.0, 104.0))
# Landmarks this close to the hand-placed eyes are on the eyes (the irises are ~10 px wide).
EYE_TOLERANCE_PX = 6.0


class _ConstantScorer:
    def __init__(self) -> None:
        self.crops: list[np.ndarray] = []

    def score_crop(self, crop: np.ndarray) -> float:
        assert crop.ndim == 3 and crop.shape[0] > 0
        self.crops.append(crop)
        return 0.25


@pytest.fixture(scope="module")
def mtcnn() -> MtcnnFinder:
    return MtcnnFinder()


def _rotated(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT_101), matrix


def _moved(point: tuple[float, float], matrix: np.ndarray) -> np.ndarray:
    return np.asarray(matrix) @ np.array([point[0], point[1], 1.0])


def test_mtcnn_finds_the_astronauts_face_with_landmarks_on_her_eyes(mtcnn: MtcnnFinder) -> None:
    faces = analyze_faces(data.astronaut(), mtcnn, _ConstantScorer())
    assert len(faces) == 1
    face = faces[0]
    x, y, w, h = face.bbox
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 180
    assert face.confidence is not None and face.confidence > 0.95
    assert face.landmarks is not None and len(face.landmarks) == 5
    for found, expected in zip(face.landmarks[:2], ASTRONAUT_EYES, strict=True):
        assert np.hypot(found[0] - expected[0], found[1] - expected[1]) < EYE_TOLERANCE_PX
    as_dict = face.to_dict()
    assert as_dict["manipulation_probability"] == 0.25 and as_dict["bbox"] == list(face.bbox)
    assert len(as_dict["landmarks"]) == 5 and as_dict["confidence"] == round(face.confidence, 4)  # type: ignore[arg-type]


def test_mtcnn_finds_a_tilted_face_and_its_tilted_eyes(mtcnn: MtcnnFinder) -> None:
    image, matrix = _rotated(data.astronaut(), 25.0)
    faces = mtcnn.find(image)
    assert len(faces) == 1 and faces[0].landmarks is not None
    for found, expected in zip(faces[0].landmarks[:2], ASTRONAUT_EYES, strict=True):
        moved = _moved(expected, matrix)
        assert np.hypot(found[0] - moved[0], found[1] - moved[1]) < EYE_TOLERANCE_PX


def test_the_face_finders_find_nothing_in_a_coffee_cup(mtcnn: MtcnnFinder) -> None:
    assert analyze_faces(data.coffee(), mtcnn, None) == []
    assert analyze_faces(data.coffee(), CascadeFinder(), None) == []


def test_the_haar_cascade_still_finds_the_astronaut_without_landmarks() -> None:
    faces = analyze_faces(data.astronaut(), build_face_finder("haar"), _ConstantScorer())
    assert len(faces) >= 1 and faces[0].landmarks is None and faces[0].confidence is None
    x, y, w, h = faces[0].bbox
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 180
    assert faces[0].to_dict() == {
        "bbox": list(faces[0].bbox),
        "manipulation_probability": 0.25,
        "confidence": None,
        "landmarks": None,
    }


@pytest.mark.parametrize(
    "shape", [(1, 1, 3), (5, 900, 3), (900, 5, 3), (12, 12, 3), (30, 30, 3), (40, 4000, 3)]
)
def test_mtcnn_takes_slivers_and_tiny_images(mtcnn: MtcnnFinder, shape: tuple) -> None:
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert mtcnn.find(image) == []


def test_boxes_reaching_past_the_border_are_cut_to_the_image(mtcnn: MtcnnFinder) -> None:
    # The face runs off the left and top edges: MTCNN's box would start at negative coordinates.
    cropped = np.ascontiguousarray(data.astronaut()[95:400, 205:500])
    for face in mtcnn.find(cropped):
        x, y, w, h = face.bbox
        assert x >= 0 and y >= 0 and x + w <= cropped.shape[1] and y + h <= cropped.shape[0]


def test_a_crowd_keeps_the_largest_faces(mtcnn: MtcnnFinder) -> None:
    tile = cv2.resize(data.astronaut()[40:220, 150:300], (96, 115))
    crowd = np.tile(tile, (5, 5, 1))  # 25 faces
    faces = mtcnn.find(crowd)
    assert 10 <= len(faces) <= MAX_FACES


def test_alignment_puts_the_eyes_at_the_canonical_positions() -> None:
    left, right = (120.0, 200.0), (180.0, 170.0)  # a tilted pair of eyes
    side = 256
    matrix = eye_alignment(left, right, side)
    assert _moved(left, matrix) == pytest.approx(np.array(CANONICAL_LEFT_EYE) * side)
    assert _moved(right, matrix) == pytest.approx(np.array(CANONICAL_RIGHT_EYE) * side)
    with pytest.raises(ValueError, match="eyes"):
        eye_alignment(left, left, side)


def test_an_aligned_tilted_face_has_its_eyes_level_and_in_place(mtcnn: MtcnnFinder) -> None:
    """The crop a face is scored on: found again in that crop, its eyes are where alignment put
    them (the detector's landmarks, not the transform's arithmetic)."""
    image, _ = _rotated(data.astronaut(), -30.0)
    face = mtcnn.find(image)[0]
    crop = face_crop(image, face)
    side = crop.shape[0]
    assert crop.shape[0] == crop.shape[1]
    again = mtcnn.find(crop)
    assert len(again) == 1 and again[0].landmarks is not None
    left, right = again[0].landmarks[:2]
    tolerance = 0.04 * side
    assert (
        np.hypot(left[0] - CANONICAL_LEFT_EYE[0] * side, left[1] - CANONICAL_LEFT_EYE[1] * side)
        < tolerance
    )
    assert (
        np.hypot(right[0] - CANONICAL_RIGHT_EYE[0] * side, right[1] - CANONICAL_RIGHT_EYE[1] * side)
        < tolerance
    )


def test_faces_without_landmarks_are_cropped_with_a_margin() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    crop = face_crop(image, Face((100, 50, 50, 60)))
    assert crop.shape == (60 + 2 * 18, 50 + 2 * 15, 3)
    face = Face((100, 50, 50, 60), landmarks=((110.0, 70.0), (140.0, 70.0)) + ((125.0, 90.0),) * 3)
    assert face_crop(image, face, align=False).shape == crop.shape


def test_report_faces_scale_with_their_landmarks() -> None:
    face = Face((10, 20, 30, 40), 0.5, 0.99, ((1.0, 2.0),) * 5).to_dict()
    scaled = scaled_face_dict(face, 2.0)
    assert scaled["bbox"] == [20, 40, 60, 80] and scaled["landmarks"] == [[2.0, 4.0]] * 5
    assert scaled["confidence"] == 0.99 and face["bbox"] == [10, 20, 30, 40]
    assert scaled_face_dict({"bbox": [1, 1, 1, 1]}, 1.5, box_digits=1) == {"bbox": [1.5] * 4}


def test_auto_falls_back_to_the_cascade_without_facenet_pytorch(monkeypatch, caplog) -> None:
    real_import = builtins.__import__

    def no_facenet(name: str, *args, **kwargs):
        if name.split(".")[0] == "facenet_pytorch":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    # As on a machine without the package: detection.core.mtcnn's own import fails.
    monkeypatch.delitem(sys.modules, "detection.core.mtcnn")
    monkeypatch.setattr(builtins, "__import__", no_facenet)
    with caplog.at_level(logging.WARNING, logger="detection.core.faces"):
        finder = build_face_finder("auto")
    assert finder.name == "haar" and "falling back" in caplog.text
    assert len(analyze_faces(data.astronaut(), finder, None)) >= 1
    with pytest.raises(ImportError, match="DETECTION_FACE_FINDER"):
        build_face_finder("mtcnn")


def test_finder_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown face finder 'retina'"):
        build_face_finder("retina")
    with pytest.raises(ValueError, match="YUNET_MODEL_FILE"):
        build_face_finder("yunet")
    with pytest.raises(FileNotFoundError, match=r"absent\.onnx"):
        build_face_finder("auto", tmp_path / "absent.onnx")
    assert build_face_finder("haar").name == "haar"
    assert build_face_finder("auto").name == "mtcnn"


def test_isolated_hits_are_dropped_and_overlapping_hits_merged() -> None:
    boxes = [(10, 10, 40, 40), (12, 11, 40, 40), (200, 200, 30, 30)]
    assert cluster_boxes(boxes, 2) == [(11, 10, 40, 40)]
