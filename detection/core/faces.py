"""Offline face finding and per-face manipulation scoring with the multi-task network.

Finders (`DETECTION_FACE_FINDER`): MTCNN (`detection.core.mtcnn`, the weights shipped in the
facenet-pytorch wheel: boxes, confidence and 5 landmarks), OpenCV's YuNet when its ONNX file is
configured (boxes, confidence, landmarks), and OpenCV's bundled Haar cascade (boxes only; when
this OpenCV build lacks `CascadeClassifier`, scikit-image's bundled LBP frontal-face cascade).
`auto` takes the first of these that is available. All offline.

A face with landmarks is scored on a crop aligned on its eyes (`detection.core.alignment`); a
face without them on its box enlarged by FACE_CROP_MARGIN.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from detection.core.alignment import aligned_face

logger = logging.getLogger(__name__)

MAX_FACES = 20  # report size is bounded; a crowd photo keeps its 20 largest faces
MIN_FACE_SIDE = 24
# Face crops are enlarged so blending boundaries (where face swaps leave traces) are included.
FACE_CROP_MARGIN = 0.3
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
# Cascades and YuNet run on a downscaled copy: their cost grows with pixel count, faces stay
# detectable.
DETECTION_MAX_SIDE = 512
YUNET_SCORE_THRESHOLD = 0.8
# Pyramid step of the LBP fallback: coarser steps (1.15+) are faster but lose faces.
LBP_SCALE_FACTOR = 1.1
# Cascade hits are clustered; a face is reported when at least this many hits overlap, which
# removes most single-window false positives.
MIN_NEIGHBOURS = 2
CLUSTER_IOU = 0.3

# DETECTION_FACE_FINDER values; "auto" is MTCNN when facenet-pytorch imports, else YuNet when
# its model file is configured, else the Haar cascade.
FACE_FINDERS = ("auto", "mtcnn", "yunet", "haar")

Box = tuple[int, int, int, int]  # x, y, w, h in the image grid
Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    bbox: Box
    manipulation_probability: float | None = None
    # The finder's own score for "this is a face" (None: the Haar/LBP cascades have none).
    confidence: float | None = None
    # Eye on the image's left, eye on the image's right, nose tip, mouth corners left and right
    # (None: the finder gives no landmarks).
    landmarks: tuple[Point, ...] | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "bbox": list(self.bbox),
            "manipulation_probability": _rounded(self.manipulation_probability, 4),
            "confidence": _rounded(self.confidence, 4),
            "landmarks": (
                None
                if self.landmarks is None
                else [[round(x, 1), round(y, 1)] for x, y in self.landmarks]
            ),
        }

    def scaled(self, factor: float) -> Face:
        """The same face on a grid `factor` times larger (boxes rounded to whole pixels)."""
        return replace(
            self,
            bbox=_box(round(v * factor) for v in self.bbox),
            landmarks=(
                None
                if self.landmarks is None
                else tuple((x * factor, y * factor) for x, y in self.landmarks)
            ),
        )


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def scaled_face_dict(
    face: dict[str, Any], factor: float, *, box_digits: int | None = None
) -> dict[str, Any]:
    """A report face (`Face.to_dict()`) moved to a grid `factor` times larger: its box (whole
    pixels unless `box_digits`) and its landmarks."""
    moved = {**face, "bbox": [round(float(v) * factor, box_digits) for v in face["bbox"]]}
    if face.get("landmarks") is not None:
        moved["landmarks"] = [
            [round(float(x) * factor, 1), round(float(y) * factor, 1)] for x, y in face["landmarks"]
        ]
    return moved


@runtime_checkable
class CropScorer(Protocol):
    def score_crop(self, crop: np.ndarray) -> float: ...


class FaceFinder(Protocol):
    """Finds faces in an RGB uint8 image: at most MAX_FACES, largest first, image grid."""

    name: str

    def find(self, image: np.ndarray) -> list[Face]: ...


def downscaled(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(image with its longer side at most `max_side`, the factor applied)."""
    factor = min(1.0, max_side / max(image.shape[:2]))
    if factor == 1.0:
        return image, 1.0
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return small, factor


def found_faces(
    image: np.ndarray, max_side: int, detect: Callable[[np.ndarray], list[Face]]
) -> list[Face]:
    """`detect` on a copy at most `max_side` px, faces back on the image grid, too small ones
    dropped, largest MAX_FACES kept."""
    small, factor = downscaled(image, max_side)
    height, width = image.shape[:2]
    faces = [_clipped(face.scaled(1.0 / factor), width, height) for face in detect(small)]
    faces = [f for f in faces if min(f.bbox[2], f.bbox[3]) >= MIN_FACE_SIDE]
    faces.sort(key=lambda f: f.bbox[2] * f.bbox[3], reverse=True)
    return faces[:MAX_FACES]


def _clipped(face: Face, width: int, height: int) -> Face:
    """The face with its box cut to the image (MTCNN's boxes may reach past the border)."""
    x, y, w, h = face.bbox
    x0, y0 = min(max(0, x), width), min(max(0, y), height)
    x1, y1 = min(max(0, x + w), width), min(max(0, y + h), height)
    return replace(face, bbox=(x0, y0, x1 - x0, y1 - y0))


class CascadeFinder:
    """OpenCV's Haar frontal-face cascade (scikit-image's LBP one when OpenCV has none)."""

    name = "haar"

    def __init__(self) -> None:
        self.cascade = _opencv_cascade()
        self.lbp_cascade = None if self.cascade is not None else _skimage_cascade()

    def find(self, image: np.ndarray) -> list[Face]:
        return found_faces(image, DETECTION_MAX_SIDE, self._detect)

    def _detect(self, image: np.ndarray) -> list[Face]:
        gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        if self.cascade is not None:
            found = self.cascade.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE_SIDE, MIN_FACE_SIDE)
            )
            boxes = [_box(int(v) for v in box) for box in np.asarray(found).reshape(-1, 4)]
            return [Face(box) for box in boxes]
        assert self.lbp_cascade is not None  # made whenever OpenCV's cascade is missing
        hits = self.lbp_cascade.detect_multi_scale(
            img=gray.astype(np.float64) / 255.0,
            scale_factor=LBP_SCALE_FACTOR,
            step_ratio=1,
            min_size=(MIN_FACE_SIDE, MIN_FACE_SIDE),
            max_size=gray.shape[:2],
        )
        boxes = [(h["c"], h["r"], h["width"], h["height"]) for h in hits]
        return [Face(box) for box in cluster_boxes(boxes, MIN_NEIGHBOURS)]


class YunetFinder:
    """OpenCV's YuNet (an ONNX file the operator provides; nothing is downloaded)."""

    name = "yunet"

    def __init__(self, model: Path | str) -> None:
        self.model = Path(model)
        if not self.model.is_file():
            raise FileNotFoundError(f"YuNet model not found: {self.model}")

    def find(self, image: np.ndarray) -> list[Face]:
        return found_faces(image, DETECTION_MAX_SIDE, self._detect)

    def _detect(self, image: np.ndarray) -> list[Face]:
        height, width = image.shape[:2]
        # One detector per call: its input size is fixed at creation and calls may overlap.
        detector = cv2.FaceDetectorYN.create(
            str(self.model), "", (width, height), YUNET_SCORE_THRESHOLD
        )
        _, found = detector.detect(np.ascontiguousarray(image[:, :, ::-1]))
        if found is None:
            return []
        # Each row: x, y, w, h, then 5 (x, y) landmarks in Face's order, then the score.
        return [
            Face(
                _box(int(v) for v in row[:4]),
                confidence=float(row[14]),
                landmarks=tuple((float(row[i]), float(row[i + 1])) for i in range(4, 14, 2)),
            )
            for row in found
        ]


def build_face_finder(kind: str = "auto", yunet_model: Path | str | None = None) -> FaceFinder:
    """The finder named by DETECTION_FACE_FINDER (one of FACE_FINDERS). Raises ValueError for an
    unknown name or "yunet" without a model file, FileNotFoundError for a missing model file and
    ImportError for "mtcnn" without facenet-pytorch installed."""
    if kind not in FACE_FINDERS:
        choices = ", ".join(FACE_FINDERS)
        raise ValueError(f"unknown face finder {kind!r} (DETECTION_FACE_FINDER: one of {choices})")
    if yunet_model is not None and not Path(yunet_model).is_file():
        # A configured file that is missing is an operator error whichever finder runs.
        raise FileNotFoundError(f"YuNet model not found: {yunet_model}")
    if kind in ("auto", "mtcnn"):
        try:
            from detection.core.mtcnn import MtcnnFinder

            return MtcnnFinder()
        except ImportError as error:
            if kind == "mtcnn":
                raise ImportError(
                    f"the MTCNN face finder needs facenet-pytorch ({error}); "
                    "install it or choose another DETECTION_FACE_FINDER"
                ) from error
            logger.warning("facenet-pytorch unavailable (%s): falling back to YuNet/Haar", error)
    if kind == "yunet" and yunet_model is None:
        raise ValueError("the YuNet face finder needs YUNET_MODEL_FILE")
    if kind != "haar" and yunet_model is not None:
        return YunetFinder(yunet_model)
    return CascadeFinder()


def _box(values: Iterable[int]) -> Box:
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


def cluster_boxes(boxes: list[Box], min_neighbours: int) -> list[Box]:
    """Greedy clustering of overlapping hits; each cluster with enough members is averaged."""
    clusters: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: b[2] * b[3], reverse=True):
        for cluster in clusters:
            if box_iou(cluster[0], box) > CLUSTER_IOU:
                cluster.append(box)
                break
        else:
            clusters.append([box])
    return [
        _box(round(v) for v in np.mean(c, axis=0)) for c in clusters if len(c) >= min_neighbours
    ]


def _crop_with_margin(image: np.ndarray, box: Box) -> np.ndarray:
    x, y, w, h = box
    mx, my = int(w * FACE_CROP_MARGIN), int(h * FACE_CROP_MARGIN)
    y0, y1 = max(0, y - my), min(image.shape[0], y + h + my)
    x0, x1 = max(0, x - mx), min(image.shape[1], x + w + mx)
    return image[y0:y1, x0:x1]


def face_crop(image: np.ndarray, face: Face, *, align: bool = True) -> np.ndarray:
    """What a face is scored on: aligned on its eyes when it has landmarks (and `align`),
    otherwise its box enlarged by FACE_CROP_MARGIN."""
    if align and face.landmarks is not None:
        return aligned_face(image, face.landmarks[0], face.landmarks[1])
    return _crop_with_margin(image, face.bbox)


def analyze_faces(
    image: np.ndarray, finder: FaceFinder, scorer: CropScorer | None, *, align: bool = True
) -> list[Face]:
    """Faces with their manipulation probability (None when no network is configured)."""
    faces = finder.find(image)
    if scorer is None:
        return faces
    return [
        replace(f, manipulation_probability=scorer.score_crop(face_crop(image, f, align=align)))
        for f in faces
    ]
