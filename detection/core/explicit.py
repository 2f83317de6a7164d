"""Explicit-content regions: the NudeNet detector (PyPI `nudenet`, its ONNX model ships in the
wheel) run with onnxruntime. Plain Python on numpy arrays; the model loads once per process.

Only exposed body parts count as explicit; covered ones, faces and feet are left out. The
regions are for the reviewer's wellness (blurred by default), not evidence of manipulation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# NudeNet's classes that are explicit content (its other classes: covered parts, faces, feet,
# armpits, belly).
EXPLICIT_CLASSES = {
    "FEMALE_GENITALIA_EXPOSED": "genitals",
    "MALE_GENITALIA_EXPOSED": "genitals",
    "FEMALE_BREAST_EXPOSED": "breast",
    "BUTTOCKS_EXPOSED": "buttocks",
    "ANUS_EXPOSED": "anus",
}
# NudeNet keeps boxes from 0.2; below this score a box is too often skin or fabric.
MIN_EXPLICIT_SCORE = 0.4
MAX_EXPLICIT_REGIONS = 12
MODEL_NAME = "nudenet-320n"


class Detector(Protocol):
    def detect(self, image_path: Any) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class ExplicitRegion:
    bbox: tuple[int, int, int, int]  # x, y, w, h in image pixels
    label: str  # plain word from EXPLICIT_CLASSES
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"bbox": list(self.bbox), "label": self.label, "score": round(self.score, 3)}


_lock = threading.Lock()
_detector: Detector | None = None


def explicit_detector() -> Detector:
    """The NudeNet detector, built once per process on first use."""
    global _detector
    with _lock:
        if _detector is None:
            from nudenet import NudeDetector  # onnxruntime loads only when first needed

            _detector = NudeDetector()
        return _detector


def explicit_regions(
    image: np.ndarray, *, detector: Detector | None = None
) -> list[ExplicitRegion]:
    """Explicit regions of an RGB uint8 image, highest score first."""
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 8:
        return []
    height, width = image.shape[:2]
    # NudeNet reads OpenCV's BGR order.
    found = (detector or explicit_detector()).detect(np.ascontiguousarray(image[:, :, ::-1]))
    regions = []
    for entry in found:
        label = EXPLICIT_CLASSES.get(str(entry.get("class")))
        score = float(entry.get("score") or 0.0)
        if label is None or not score >= MIN_EXPLICIT_SCORE:
            continue
        x, y, w, h = (round(float(v)) for v in entry.get("box", (0, 0, 0, 0)))
        x, y = max(0, min(x, width)), max(0, min(y, height))
        w, h = max(0, min(w, width - x)), max(0, min(h, height - y))
        if w and h:
            regions.append(ExplicitRegion((x, y, w, h), label, score))
    regions.sort(key=lambda region: region.score, reverse=True)
    return regions[:MAX_EXPLICIT_REGIONS]
