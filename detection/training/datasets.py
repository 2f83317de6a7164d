"""Readers for data sets users bring (nothing is downloaded): FaceForensics++-style frame folders
and OpenForensics (COCO-style JSON with per-face polygons or RLE and real/fake categories)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detection.core.imaging import to_rgb_uint8

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MASK_THRESHOLD = 127  # FF++ masks are 0/255 but lossy copies drift, so binarise at mid-grey
FAKE_CATEGORY_NAMES = ("fake", "manipulated", "forged")


@dataclass(frozen=True)
class FrameRecord:
    image_path: Path
    label: int  # 1 = manipulated
    method: str  # "original" for real frames
    video: str
    mask_path: Path | None = None


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise OSError(f"cannot decode image {path}")
    if image.ndim == 3:
        image = image[:, :, ::-1] if image.shape[2] == 3 else image[:, :, [2, 1, 0, 3]]
    return to_rgb_uint8(np.ascontiguousarray(image))


def _frames_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if (
            path.suffix.lower() in IMAGE_SUFFIXES
            and "frames" in path.parts
            and "masks" not in path.parts
        ):
            yield path


def read_faceforensics(root: Path | str) -> list[FrameRecord]:
    """Frames under <root>/original_sequences/**/frames/** (real) and
    <root>/manipulated_sequences/<method>/**/frames/** (fake); a fake frame's mask is the file
    with the same video folder and frame name under <root>/manipulated_sequences/<method>/masks.
    """
    root = Path(root)
    if not (root / "original_sequences").is_dir() and not (root / "manipulated_sequences").is_dir():
        raise FileNotFoundError(f"{root} has neither original_sequences nor manipulated_sequences")
    records = [
        FrameRecord(p, 0, "original", p.parent.name)
        for p in _frames_under(root / "original_sequences")
    ]
    manipulated = root / "manipulated_sequences"
    for method_dir in sorted(d for d in manipulated.glob("*") if d.is_dir()):
        masks = {
            (p.parent.name, p.stem): p
            for p in sorted((method_dir / "masks").rglob("*"))
            if p.suffix.lower() in IMAGE_SUFFIXES
        }
        for frame in _frames_under(method_dir):
            mask = masks.get((frame.parent.name, frame.stem))
            records.append(FrameRecord(frame, 1, method_dir.name, frame.parent.name, mask))
    return records


def load_frame(record: FrameRecord) -> tuple[np.ndarray, np.ndarray | None]:
    """(image, mask uint8 {0,1} or None when a fake frame has no mask; zeros for real)."""
    image = read_image(record.image_path)
    if record.label == 0:
        return image, np.zeros(image.shape[:2], np.uint8)
    if record.mask_path is None:
        return image, None
    mask = read_image(record.mask_path).max(axis=2)
    if mask.shape != image.shape[:2]:
        mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    return image, (mask > MASK_THRESHOLD).astype(np.uint8)


@dataclass(frozen=True)
class FaceAnnotation:
    bbox: tuple[float, float, float, float]  # COCO x, y, w, h
    label: int  # 1 = fake
    segmentation: Any = None  # polygons (list of flat lists) or RLE dict


@dataclass(frozen=True)
class AnnotatedImage:
    path: Path
    width: int
    height: int
    faces: tuple[FaceAnnotation, ...] = field(default_factory=tuple)

    @property
    def label(self) -> int:
        return int(any(face.label for face in self.faces))


def _bbox(values: list[float]) -> tuple[float, float, float, float]:
    x, y, width, height = (float(v) for v in values)
    return x, y, width, height


def read_openforensics(annotations: Path | str, image_dir: Path | str) -> list[AnnotatedImage]:
    """Parse a COCO-style OpenForensics annotation file; categories named like "Fake" mark
    manipulated faces, every other category is real."""
    annotations, image_dir = Path(annotations), Path(image_dir)
    try:
        coco = json.loads(annotations.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read OpenForensics annotations {annotations}: {exc}") from exc
    fake_ids = {
        c["id"]
        for c in coco.get("categories", [])
        if str(c.get("name", "")).lower() in FAKE_CATEGORY_NAMES
    }
    faces: dict[int, list[FaceAnnotation]] = {}
    for item in coco.get("annotations", []):
        face = FaceAnnotation(
            _bbox(item["bbox"]),
            int(item["category_id"] in fake_ids),
            item.get("segmentation"),
        )
        faces.setdefault(item["image_id"], []).append(face)
    return [
        AnnotatedImage(
            image_dir / entry["file_name"],
            int(entry["width"]),
            int(entry["height"]),
            tuple(faces.get(entry["id"], [])),
        )
        for entry in coco.get("images", [])
    ]


def face_mask(record: AnnotatedImage, fake_only: bool = True) -> np.ndarray:
    """uint8 {0,1} mask of (fake) faces, rasterised from polygons or RLE."""
    mask = np.zeros((record.height, record.width), np.uint8)
    for face in record.faces:
        if fake_only and not face.label:
            continue
        segmentation = face.segmentation
        if isinstance(segmentation, dict):
            mask |= decode_rle(segmentation)
        elif segmentation:
            for polygon in segmentation:
                points = np.asarray(polygon, np.float32).reshape(-1, 2)
                cv2.fillPoly(mask, [np.rint(points).astype(np.int32)], 1)
        else:  # no segmentation: fall back to the box
            x, y, w, h = (round(v) for v in face.bbox)
            mask[y : y + h, x : x + w] = 1
    return mask


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """COCO RLE (compressed string or list of counts, column-major) to a uint8 mask."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        counts = _counts_from_string(counts if isinstance(counts, str) else counts.decode())
    flat = np.zeros(height * width, np.uint8)
    position, value = 0, 0
    for run in counts:
        flat[position : position + run] = value
        position += run
        value = 1 - value
    return flat.reshape((width, height)).T.copy()


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """Compressed COCO RLE of a binary mask (inverse of decode_rle)."""
    flat = mask.astype(bool).T.ravel()
    changes = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(np.int8), [2]])) != 0)
    counts = np.diff(np.concatenate([[0], changes])).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    counts = [c for c in counts if c is not None]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": _counts_to_string(counts)}


def _counts_from_string(text: str) -> list[int]:
    # Port of COCO maskApi rleFrString: 5-bit groups, ASCII offset 48, delta-coded from i-2.
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            chunk = ord(text[position]) - 48
            value |= (chunk & 0x1F) << (5 * shift)
            more = bool(chunk & 0x20)
            position += 1
            shift += 1
            if not more and chunk & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def _counts_to_string(counts: list[int]) -> str:
    characters = []
    for index, count in enumerate(counts):
        value = count - counts[index - 2] if index > 2 else count
        more = True
        while more:
            chunk = value & 0x1F
            value >>= 5
            more = value != -1 if chunk & 0x10 else value != 0
            if more:
                chunk |= 0x20
            characters.append(chr(chunk + 48))
    return "".join(characters)
