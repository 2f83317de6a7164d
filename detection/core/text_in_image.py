"""Text in the image (captions burnt in, memes, screenshots): RapidOCR (PyPI
`rapidocr-onnxruntime`, PP-OCRv4 detection and recognition models shipped in the wheel) run with
onnxruntime. Plain Python on numpy arrays; the engine is built once per process, on first use.

What is read feeds claim matching (moderation.fact_checks) the way a caption does, and is shown
to the reviewer with its boxes. It is context, not evidence of manipulation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

MODEL_NAME = "rapidocr-ppocrv4"
MODEL_VERSION = "1.4.4"  # the pinned rapidocr-onnxruntime wheel, whose models are used
# Recognition confidence (the recogniser's mean per-character probability) a line needs, above
# RapidOCR's own floor of 0.5: a misread texture scores low, while the lines of the generated
# cards read at 0.9 and above and the bare photos of the benchmark give no line at all
# (scripts/bench_text_in_image.py).
MIN_LINE_CONFIDENCE = 0.7
# A report stays small: a screenshot of a long article gives hundreds of lines, and the
# claim-matching query reads at most a couple of thousand characters anyway.
MAX_LINES = 40
MAX_LINE_CHARACTERS = 300
MAX_TEXT_CHARACTERS = 2000
# The long side the engine reads at: bounds time and memory for any picture the upload gate
# lets through (its pixel cap is far larger), while 1280 px keeps caption-sized text legible.
MAX_READ_SIDE = 1280
# Text is found on a copy this many px on its long side (then read at full resolution): 640
# found every line of the generated cards (24 px text on 1024-px cards included) at about half
# the CPU time of finding it at 1024 px.
DETECT_SIDE = 640
# Text detection keeps at most this many boxes to recognise: a noisy picture (foliage, static)
# can make the detector propose hundreds, and recognising each costs milliseconds.
MAX_DETECTED_BOXES = 100
# onnxruntime threads per model: one. The reader has a helper thread of its own while fact-check
# matching and detection keep the cores busy, and on a shared machine onnxruntime's default
# spinning pool of two threads took nearly 3x as long per read as one thread
# (scripts/bench_text_in_image.py, docs/benchmarks.md).
ENGINE_THREADS = 1
# Below this many pixels on the short side there is no line of text to read.
MIN_SIDE = 8
# A sliver is padded to this short side before reading: RapidOCR scales any short side below 30
# px up to 30 and its detector (by default) any short side up to 736 px, keeping the aspect, so
# a 9 x 2000 picture grew to about 736 x 160,000 pixels and took minutes.
MIN_READ_SHORT_SIDE = 32


class OcrEngine(Protocol):
    def __call__(self, image: np.ndarray) -> tuple[Any, Any]: ...


@dataclass(frozen=True)
class TextLine:
    text: str
    bbox: tuple[int, int, int, int]  # x, y, w, h in image pixels (upright axis-aligned box)
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "bbox": list(self.bbox), "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class TextInImage:
    """The lines read, top to bottom, and their text joined one line per line."""

    lines: tuple[TextLine, ...]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "lines": [line.to_dict() for line in self.lines]}


class TwoScaleReader:
    """RapidOCR's models run the way captions need: text found on a copy at most
    DETECT_SIDE px on its long side, each line then read from the full-resolution picture.

    Finding text is most of the cost and needs no fine detail; reading a line does. On the
    generated cards this halves the CPU time of RapidOCR's own single-scale call and reads as
    well or better (scripts/bench_text_in_image.py, docs/benchmarks.md).
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine  # a rapidocr_onnxruntime.RapidOCR

    def __call__(self, image: np.ndarray) -> tuple[Any, Any]:
        height, width = image.shape[:2]
        scale = min(1.0, DETECT_SIDE / max(height, width))
        scale = max(scale, min(1.0, MIN_READ_SHORT_SIDE / min(height, width)))
        small = image
        if scale < 1.0:
            size = (round(width * scale), round(height * scale))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        boxes, _ = self.engine.text_det(small)
        if boxes is None or len(boxes) == 0:
            return None, None
        boxes = [
            np.asarray(box, dtype=np.float32) / np.float32(scale)
            for box in self.engine.sorted_boxes(boxes)
        ]
        crops, _, _ = self.engine.text_cls(self.engine.get_crop_img_list(image, boxes))
        read, _ = self.engine.text_rec(crops, False)
        found = [[box, entry[0], entry[1]] for box, entry in zip(boxes, read, strict=True)]
        return found, None


_lock = threading.Lock()
_engine: OcrEngine | None = None


def ocr_engine() -> OcrEngine:
    """The text reader (RapidOCR's models, TwoScaleReader), built once per process on first use
    (thread-safe)."""
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR  # onnxruntime sessions only when needed

            # limit_type "max": the detector shrinks only pictures past 960 px, and never
            # enlarges one (TwoScaleReader hands it at most DETECT_SIDE px).
            _engine = TwoScaleReader(
                RapidOCR(
                    intra_op_num_threads=ENGINE_THREADS,
                    inter_op_num_threads=ENGINE_THREADS,
                    det_limit_type="max",
                    det_max_candidates=MAX_DETECTED_BOXES,
                )
            )
        return _engine


def _readable(image: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """The image as the engine reads it (BGR uint8, long side at most MAX_READ_SIDE, short side
    at least MIN_READ_SHORT_SIDE) and the scale from its pixels to the image's in x and y; None
    when there is nothing to read."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        return None
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        return None
    scale = min(1.0, MAX_READ_SIDE / max(height, width))
    if scale < 1.0:
        size = (max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    scale_x, scale_y = width / image.shape[1], height / image.shape[0]
    height, width = image.shape[:2]
    if min(height, width) < MIN_READ_SHORT_SIDE:
        # Padded at the bottom and right, so the boxes found keep their coordinates.
        image = cv2.copyMakeBorder(
            image,
            0,
            max(0, MIN_READ_SHORT_SIDE - height),
            0,
            max(0, MIN_READ_SHORT_SIDE - width),
            cv2.BORDER_REPLICATE,
        )
    # RapidOCR reads arrays in OpenCV's BGR order.
    return np.ascontiguousarray(image[:, :, ::-1]), scale_x, scale_y


def _bbox(
    points: Any, scale_x: float, scale_y: float, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """The axis-aligned box (x, y, w, h) around a detected quadrilateral, in image pixels."""
    corners = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if corners.size == 0 or not np.isfinite(corners).all():
        return None
    left = int(np.clip(np.floor(corners[:, 0].min() * scale_x), 0, width))
    top = int(np.clip(np.floor(corners[:, 1].min() * scale_y), 0, height))
    right = int(np.clip(np.ceil(corners[:, 0].max() * scale_x), 0, width))
    bottom = int(np.clip(np.ceil(corners[:, 1].max() * scale_y), 0, height))
    if right <= left or bottom <= top:
        return None
    return left, top, right - left, bottom - top


def _lines(
    found: Sequence[Any], scale_x: float, scale_y: float, width: int, height: int
) -> list[TextLine]:
    lines: list[TextLine] = []
    characters = 0
    for entry in found:
        if len(lines) >= MAX_LINES or characters >= MAX_TEXT_CHARACTERS:
            break
        points, text, confidence = entry[0], entry[1], float(entry[2])
        text = " ".join(str(text).split())[:MAX_LINE_CHARACTERS]
        text = text[: MAX_TEXT_CHARACTERS - characters]
        bbox = _bbox(points, scale_x, scale_y, width, height)
        if not text or bbox is None or not confidence >= MIN_LINE_CONFIDENCE:
            continue
        lines.append(TextLine(text, bbox, confidence))
        characters += len(text) + 1  # the line break that joins it to the next
    return lines


def read_text(image: np.ndarray, *, engine: OcrEngine | None = None) -> TextInImage:
    """The text lines of an RGB uint8 image, top to bottom: lines below MIN_LINE_CONFIDENCE
    dropped, at most MAX_LINES lines and MAX_TEXT_CHARACTERS characters in all."""
    readable = _readable(image)
    if readable is None:
        return TextInImage(())
    pixels, scale_x, scale_y = readable
    found, _ = (engine or ocr_engine())(pixels)
    if not found:
        return TextInImage(())
    height, width = image.shape[:2]
    return TextInImage(tuple(_lines(found, scale_x, scale_y, width, height)))
