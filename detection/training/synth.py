"""Self-supervised manipulation generator: turns real photos into (image, mask) training pairs.

Every manipulation returns the exact ground-truth mask of the pixels it changed, then the same
"sharing" degradations (resize, JPEG recompression) are applied to image and mask, as a social
network would. Real samples go through identical degradations with an empty mask, so the network
cannot tell real from fake by degradation alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

KINDS = ("splice_hard", "splice_feathered", "self_blend", "copy_move", "inpaint", "recolour")
# Manipulated area as a fraction of the image: big enough to be visible, small enough that
# the image is still mostly authentic.
MIN_AREA_FRACTION = 0.02
MAX_AREA_FRACTION = 0.30
JPEG_QUALITY_RANGE = (55, 98)
RESIZE_SCALE_RANGE = (0.45, 1.0)
JPEG_PROBABILITY = 0.85
# A blended pixel counts as manipulated when the foreground weight exceeds this.
MASK_ALPHA_THRESHOLD = 0.5
CLOSING_SIZE = 9
# A "fake" example whose changed area shrank below this after degradation carries no usable
# signal: training, user data and evaluation all count it as real.
MIN_FAKE_FRACTION = 0.003
# Training-only longer sharing chains (degrade_chain): the intermediate image is this many times
# the network input, and the final downscaled copy is re-encoded with this probability.
CHAIN_SCALE_RANGE = (1.15, 2.0)
SECOND_JPEG_PROBABILITY = 0.5
# Side of a shared photo: evaluation draws its images at these sizes, and training's "shared"
# data mode makes its examples the same way.
SHARED_MIN_SIDE, SHARED_MAX_SIDE = 512, 1024


@dataclass
class Sample:
    image: np.ndarray  # HxWx3 uint8 RGB
    mask: np.ndarray  # HxW uint8 {0, 1}
    kind: str  # "real" or one of KINDS
    source: str = ""  # source image name (evaluation: for grouped cross-validation)


def random_mask(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Random blob (ellipse, polygon or rectangle) covering MIN..MAX_AREA_FRACTION; float 0/1."""
    height, width = shape
    target = rng.uniform(MIN_AREA_FRACTION, MAX_AREA_FRACTION) * height * width
    mask = np.zeros((height, width), np.uint8)
    shape_kind = rng.integers(3)
    ry = int(np.sqrt(target / np.pi) * rng.uniform(0.6, 1.6))
    rx = max(4, int(target / np.pi / max(ry, 1)))
    ry = int(np.clip(ry, 4, height // 2 - 1))
    rx = int(np.clip(rx, 4, width // 2 - 1))
    cy = int(rng.integers(ry, height - ry))
    cx = int(rng.integers(rx, width - rx))
    if shape_kind == 0:
        cv2.ellipse(mask, (cx, cy), (rx, ry), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif shape_kind == 1:
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(5, 10))))
        radii = rng.uniform(0.5, 1.0, len(angles))
        pts = np.stack([cx + rx * radii * np.cos(angles), cy + ry * radii * np.sin(angles)], 1)
        cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
    else:
        mask[cy - ry : cy + ry, cx - rx : cx + rx] = 1
    return mask.astype(np.float32)


def _feather(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = float(rng.uniform(1.5, 6.0))
    soft: np.ndarray = np.clip(cv2.GaussianBlur(mask, (0, 0), sigma) * 1.0, 0.0, 1.0)
    return soft


def _blend(base: np.ndarray, top: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    alpha3 = alpha[:, :, None]
    out = np.rint(top.astype(np.float32) * alpha3 + base.astype(np.float32) * (1 - alpha3))
    return out.clip(0, 255).astype(np.uint8), (alpha > MASK_ALPHA_THRESHOLD).astype(np.uint8)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buffer = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    assert ok and decoded is not None
    return decoded[:, :, ::-1].copy()


def _colour_jitter(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    gain = 1.0 + rng.uniform(-strength, strength, 3)
    bias = rng.uniform(-strength, strength, 3) * 60.0
    return (image.astype(np.float32) * gain + bias).clip(0, 255).astype(np.uint8)


def splice(
    image: np.ndarray, donor: np.ndarray, rng: np.random.Generator, feathered: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Paste a region of another photo (its own compression history kept or changed)."""
    donor = cv2.resize(donor, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        donor = _jpeg(donor, int(rng.integers(*JPEG_QUALITY_RANGE)))
    mask = random_mask(image.shape[:2], rng)
    alpha = _feather(mask, rng) if feathered else mask
    return _blend(image, donor, alpha)


def self_blend(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Blend a slightly transformed copy of the image into itself (SBI-style face-swap traces)."""
    source = _colour_jitter(image, rng, 0.12)
    height, width = image.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.03, 0.03, 2) * (width, height)
    matrix = np.array([[scale, 0, shift[0]], [0, scale, shift[1]]], np.float32)
    source = cv2.warpAffine(source, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:
        source = cv2.GaussianBlur(source, (0, 0), float(rng.uniform(0.6, 1.5)))
    else:
        blurred = cv2.GaussianBlur(source, (0, 0), 1.0).astype(np.float32)
        source = (source * 1.6 - blurred * 0.6).clip(0, 255).astype(np.uint8)
    return _blend(image, source, _feather(random_mask(image.shape[:2], rng), rng))


def copy_move(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Duplicate a region elsewhere in the same image; the mask marks the pasted copy."""
    height, width = image.shape[:2]
    target = random_mask((height, width), rng)
    dx, dy = (rng.uniform(0.15, 0.45, 2) * (width, height) * rng.choice([-1, 1], 2)).astype(int)
    matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    moved = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
    alpha = _feather(target, rng) if rng.random() < 0.5 else target
    return _blend(image, moved, alpha)


def inpaint(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Object removal: fill a region from its surroundings with OpenCV inpainting."""
    mask: np.ndarray = random_mask(image.shape[:2], rng).astype(np.uint8)
    # Inpainting huge regions is slow and unrealistic; keep removals moderate.
    mask = cv2.resize(
        cv2.resize(mask, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_NEAREST),
        (mask.shape[1], mask.shape[0]),
        interpolation=cv2.INTER_NEAREST,
    )
    method = cv2.INPAINT_TELEA if rng.random() < 0.5 else cv2.INPAINT_NS
    filled = cv2.inpaint(image[:, :, ::-1].copy(), mask, 3, method)[:, :, ::-1]
    return np.ascontiguousarray(filled), mask


def recolour(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shift hue/saturation/brightness inside a region, hard or feathered."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[:, :, 0] = (hsv[:, :, 0] + int(rng.integers(10, 80))) % 180
    hsv[:, :, 1] = np.clip(hsv[:, :, 1] * rng.uniform(0.7, 1.5), 0, 255)
    hsv[:, :, 2] = np.clip(hsv[:, :, 2] + rng.integers(-40, 40), 0, 255)
    changed = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    mask = random_mask(image.shape[:2], rng)
    alpha = _feather(mask, rng) if rng.random() < 0.5 else mask
    return _blend(image, changed, alpha)


def manipulate(
    image: np.ndarray, donor: np.ndarray, rng: np.random.Generator, kind: str | None = None
) -> Sample:
    """Apply one manipulation; the mask is restricted to pixels that actually changed."""
    kind = kind or str(rng.choice(KINDS))
    operations: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
        "splice_hard": lambda: splice(image, donor, rng, feathered=False),
        "splice_feathered": lambda: splice(image, donor, rng, feathered=True),
        "self_blend": lambda: self_blend(image, rng),
        "copy_move": lambda: copy_move(image, rng),
        "inpaint": lambda: inpaint(image, rng),
        "recolour": lambda: recolour(image, rng),
    }
    edited, mask = operations[kind]()
    changed = np.abs(edited.astype(np.int16) - image.astype(np.int16)).max(axis=2) > 0
    # Closing keeps a replaced region whole where a few pixels happen to match the original,
    # while regions that truly did not change (e.g. inpainting a flat sky) drop out.
    kernel = np.ones((CLOSING_SIZE, CLOSING_SIZE), np.uint8)
    changed = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE, kernel).astype(bool)
    return Sample(edited, (mask.astype(bool) & changed).astype(np.uint8), kind)


def degrade(sample: Sample, rng: np.random.Generator, out_size: int | None = None) -> Sample:
    """Sharing degradations: resize (mask follows with nearest neighbour) and JPEG."""
    image, mask = sample.image, sample.mask
    if out_size is not None:
        size = (out_size, out_size)
    else:
        scale = rng.uniform(*RESIZE_SCALE_RANGE)
        size = (max(16, round(image.shape[1] * scale)), max(16, round(image.shape[0] * scale)))
    if size != (image.shape[1], image.shape[0]):
        shrinking = size[0] < image.shape[1]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, size, interpolation=interpolation)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    if rng.random() < JPEG_PROBABILITY:
        image = _jpeg(image, int(rng.integers(*JPEG_QUALITY_RANGE)))
    return Sample(image, mask, sample.kind)


def degrade_chain(
    sample: Sample, rng: np.random.Generator, out_size: int, middle_size: int
) -> Sample:
    """A longer sharing chain: resize + JPEG at middle_size, then a further downscale to
    out_size (what the next platform, or the detector's own MAX_ANALYSIS_SIDE, does) and maybe a
    second JPEG. Block-grid traces then reach the network resampled, as they do in practice."""
    middle = degrade(sample, rng, out_size=middle_size)
    image = cv2.resize(middle.image, (out_size, out_size), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(middle.mask, (out_size, out_size), interpolation=cv2.INTER_NEAREST)
    if rng.random() < SECOND_JPEG_PROBABILITY:
        image = _jpeg(image, int(rng.integers(*JPEG_QUALITY_RANGE)))
    return Sample(image, mask, sample.kind)


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Square crop of `size` px; smaller images are upscaled first so any source works."""
    height, width = image.shape[:2]
    if min(height, width) < size:
        factor = size / min(height, width)
        image = cv2.resize(
            image, (max(size, round(width * factor)), max(size, round(height * factor)))
        )
        height, width = image.shape[:2]
    y = int(rng.integers(0, height - size + 1))
    x = int(rng.integers(0, width - size + 1))
    return image[y : y + size, x : x + size]


def make_training_pair(
    image: np.ndarray,
    donor: np.ndarray,
    rng: np.random.Generator,
    out_size: int,
    fake_probability: float = 0.5,
    chain_probability: float = 0.0,
) -> Sample:
    """One degraded training example of out_size x out_size from a source and a donor image.

    With chain_probability the example goes through degrade_chain: the edit is made on a crop
    CHAIN_SCALE_RANGE times larger, which is compressed and then downscaled to out_size.
    """
    chained = chain_probability > 0 and rng.random() < chain_probability
    working = round(out_size * rng.uniform(*CHAIN_SCALE_RANGE)) if chained else out_size
    crop_size = int(working / rng.uniform(*RESIZE_SCALE_RANGE))
    crop = random_crop(image, crop_size, rng)
    if rng.random() < fake_probability:
        sample = manipulate(crop, random_crop(donor, crop_size, rng), rng)
    else:
        sample = Sample(crop, np.zeros(crop.shape[:2], np.uint8), "real")
    if chained:
        return degrade_chain(sample, rng, out_size, working)
    return degrade(sample, rng, out_size=out_size)
