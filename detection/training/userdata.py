"""Training examples from data sets users bring (FaceForensics++ folders, OpenForensics COCO
annotations), cropped and degraded exactly like the self-supervised examples so both can be mixed
in one batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from detection.training.datasets import (
    AnnotatedImage,
    face_mask,
    load_frame,
    read_faceforensics,
    read_image,
    read_openforensics,
)
from detection.training.synth import (
    MIN_FAKE_FRACTION,
    RESIZE_SCALE_RANGE,
    Sample,
    degrade,
    random_crop,
)

# Fake examples are cropped around a manipulated pixel this often; otherwise anywhere, so the
# network also sees the authentic parts of fake frames (OpenForensics faces are small).
CENTRED_CROP_PROBABILITY = 0.75


@dataclass(frozen=True)
class LabelledItem:
    """One image of a user data set; load() returns (image, mask or None when unknown)."""

    name: str
    label: int  # 1 = manipulated
    load: Callable[[], tuple[np.ndarray, np.ndarray | None]]


@dataclass
class Example:
    image: np.ndarray  # size x size x 3 uint8
    mask: np.ndarray  # size x size uint8 {0, 1} (zeros when unknown)
    label: int
    mask_known: bool


def faceforensics_items(root: Path | str) -> list[LabelledItem]:
    return [
        LabelledItem(str(record.image_path), record.label, partial(load_frame, record))
        for record in read_faceforensics(root)
    ]


def openforensics_items(annotations: Path | str, images: Path | str) -> list[LabelledItem]:
    def load(record: AnnotatedImage) -> tuple[np.ndarray, np.ndarray]:
        image = read_image(record.path)
        mask = face_mask(record)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"{record.path} is not {record.width}x{record.height} as annotated")
        return image, mask

    return [
        LabelledItem(str(record.path), record.label, partial(load, record))
        for record in read_openforensics(annotations, images)
    ]


def _crop_box(
    shape: tuple[int, int], size: int, mask: np.ndarray | None, rng: np.random.Generator
) -> tuple[int, int]:
    height, width = shape
    if mask is not None and mask.any() and rng.random() < CENTRED_CROP_PROBABILITY:
        ys, xs = np.nonzero(mask)
        pick = int(rng.integers(len(ys)))
        y = int(np.clip(ys[pick] - size // 2, 0, height - size))
        x = int(np.clip(xs[pick] - size // 2, 0, width - size))
        return y, x
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))


def make_example(item: LabelledItem, rng: np.random.Generator, size: int) -> Example:
    """Crop (centred on the manipulation for most fakes), then the sharing degradations."""
    image, mask = item.load()
    if mask is None:
        # Without a mask a crop may miss the edit: the whole frame keeps the label true.
        sample = degrade(Sample(image, np.zeros(image.shape[:2], np.uint8), "user"), rng, size)
        return Example(sample.image, sample.mask, item.label, mask_known=False)
    crop_size = int(size / rng.uniform(*RESIZE_SCALE_RANGE))
    if min(image.shape[:2]) < crop_size:
        stacked = np.dstack([image, mask])
        stacked = random_crop(stacked, crop_size, rng)  # upscales small frames first
        image, mask = stacked[:, :, :3], (stacked[:, :, 3] > 0).astype(np.uint8)
    else:
        y, x = _crop_box(image.shape[:2], crop_size, mask, rng)
        image = image[y : y + crop_size, x : x + crop_size]
        mask = mask[y : y + crop_size, x : x + crop_size]
    sample = degrade(Sample(np.ascontiguousarray(image), mask, "user"), rng, size)
    label = int(sample.mask.mean() >= MIN_FAKE_FRACTION)
    mask = sample.mask if label else np.zeros_like(sample.mask)
    return Example(sample.image, mask, label, mask_known=True)
