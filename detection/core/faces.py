"""Offline face detection and per-face manipulation scoring with the multi-task network.

Detector: OpenCV's YuNet when a model file is configured (most accurate); otherwise OpenCV's
bundled Haar cascade when this OpenCV build still ships `CascadeClassifier` (OpenCV 5 moved it
out of the main modules), else scikit-image's bundled LBP frontal-face cascade. All offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

MAX_FACES = 20  # report size is bounded; a crowd photo keeps its 20 largest faces
MIN_FACE_SIDE = 24
# Face crops are enlarged so blending boundaries (where face swaps leave traces) are included.
FACE_CROP_MARGIN = 0.3
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
# Haar runs on a downscaled copy: its cost grows with pixel count, faces stay detectable.
DETECTION_MAX_SIDE = 512
YUNET_SCORE_THRESHOLD = 0.8
# Pyramid step of the LBP fallback: coarser steps (1.15+) are faster but lose faces.
LBP_SCALE_FACTOR = 1.1
# Cascade hits are clustered; a face is reported when at least this many hits overlap, which
# removes most single-window false positives.
MIN_NEIGHBOURS = 2
CLUSTER_IOU = 0.3


@dataclass(frozen=True)
class Face:
    bbox: tuple[int, int, int, int]  # x, y, w, h in the image grid
    manipulation_probability: float | None = None

    def to_dict(self) -> dict[str, object]:
        probability = (
            None
            if self.manipulation_probability is None
            else round(self.manipulation_probability, 4)
        )
        return {"bbox": list(self.bbox), "manipulation_probability": probability}


@runtime_checkable
class CropScorer(Protocol):
    def score_crop(self, crop: np.ndarray) -> float: ...


class FaceFinder:
    """Finds frontal faces; YuNet (more accurate) when `yunet_model` points at its ONNX file."""

    def __init__(self, yunet_model: Path | str | None = None) -> None:
        self.yunet_model = Path(yunet_model) if yunet_model else None
        if self.yunet_model is not None and not self.yunet_model.is_file():
            raise FileNotFoundError(f"YuNet model not found: {self.yunet_model}")
        self.cascade = _opencv_cascade()
        self.lbp_cascade = None if self.cascade is not None else _skimage_cascade()

    def find(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        factor = min(1.0, DETECTION_MAX_SIDE / max(image.shape[:2]))
        small = (
            image
            if factor == 1.0
            else cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        )
        boxes = self._yunet(small) if self.yunet_model else self._haar(small)
        scaled = [_box(round(v / factor) for v in box) for box in boxes]
        scaled = [b for b in scaled if min(b[2], b[3]) >= MIN_FACE_SIDE]
        scaled.sort(key=lambda b: b[2] * b[3], reverse=True)
        return scaled[:MAX_FACES]

    def _haar(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        if self.cascade is not None:
            found = self.cascade.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE_SIDE, MIN_FACE_SIDE)
            )
            return [_box(int(v) for v in box) for box in np.asarray(found).reshape(-1, 4)]
        assert self.lbp_cascade is not None  # made whenever OpenCV's cascade is missing
        hits = self.lbp_cascade.detect_multi_scale(
            img=gray.astype(np.float64) / 255.0,
            scale_factor=LBP_SCALE_FACTOR,
            step_ratio=1,
            min_size=(MIN_FACE_SIDE, MIN_FACE_SIDE),
            max_size=gray.shape[:2],
        )
        boxes = [(h["c"], h["r"], h["width"], h["height"]) for h in hits]
        return cluster_boxes(boxes, MIN_NEIGHBOURS)

    def _yunet(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        height, width = image.shape[:2]
        detector = cv2.FaceDetectorYN.create(
            str(self.yunet_model), "", (width, height), YUNET_SCORE_THRESHOLD
        )
        _, found = detector.detect(np.ascontiguousarray(image[:, :, ::-1]))
        if found is None:
            return []
        return [_box(int(v) for v in row[:4]) for row in found]


def _box(values: Iterable[int]) -> tuple[int, int, int, int]:
    x, y, width, height = values
    return x, y, width, height


# OpenCV's CascadeClassifier and scikit-image's Cascade: the two have no common type.
def _opencv_cascade() -> Any | None:
    classifier = getattr(cv2, "CascadeClassifier", None)
    if classifier is None:
        return None
    cascade = classifier(str(Path(cv2.data.haarcascades) / HAAR_CASCADE))  # type: ignore[attr-defined]  # cv2.data exists at runtime; the stubs omit it
    return None if cascade.empty() else cascade


def _skimage_cascade() -> Any:
    from skimage import data
    from skimage.feature import Cascade

    return Cascade(data.lbp_frontal_face_cascade_filename())


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes (0 for two empty ones)."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def cluster_boxes(
    boxes: list[tuple[int, int, int, int]], min_neighbours: int
) -> list[tuple[int, int, int, int]]:
    """Greedy clustering of overlapping hits; each cluster with enough members is averaged."""
    clusters: list[list[tuple[int, int, int, int]]] = []
    for box in sorted(boxes, key=lambda b: b[2] * b[3], reverse=True):
        for cluster in clusters:
            if box_iou(cluster[0], box) > CLUSTER_IOU:
                cluster.append(box)
                break
        else:
            clusters.append([box])
    return [
        tuple(round(v) for v in np.mean(c, axis=0)) for c in clusters if len(c) >= min_neighbours
    ]


def _crop_with_margin(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    mx, my = int(w * FACE_CROP_MARGIN), int(h * FACE_CROP_MARGIN)
    y0, y1 = max(0, y - my), min(image.shape[0], y + h + my)
    x0, x1 = max(0, x - mx), min(image.shape[1], x + w + mx)
    return image[y0:y1, x0:x1]


def analyze_faces(image: np.ndarray, finder: FaceFinder, scorer: CropScorer | None) -> list[Face]:
    """Faces with their manipulation probability (None when no network is configured)."""
    faces = []
    for box in finder.find(image):
        probability = scorer.score_crop(_crop_with_margin(image, box)) if scorer else None
        faces.append(Face(box, probability))
    return faces
