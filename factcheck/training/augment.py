"""Copy-detection augmentations: exactly the ways a repost differs from its original.

`augmented_view(image, rng, size)` chains random crop (down to CROP_MIN_AREA of the picture),
horizontal mirror, small rotation, border/padding, caption band or overlaid text, colour jitter
or greyscale, then a resize to a random (often small) working size, JPEG at quality
JPEG_QUALITY, and the final resize to the network's input grid the way inference resizes.
Deterministic for a given rng state.
"""

from __future__ import annotations

import string

import cv2
import numpy as np

from factcheck.core.features import scaled_size

Rng = np.random.Generator
CROP_MIN_AREA = 0.5
CROP_PROBABILITY = 0.8
MIRROR_PROBABILITY = 0.5
ROTATION_DEGREES = 8.0
ROTATION_PROBABILITY = 0.25
BORDER_PROBABILITY = 0.25
TEXT_PROBABILITY = 0.35
COLOUR_PROBABILITY = 0.6
GREY_PROBABILITY = 0.1
DOWNSCALE_PROBABILITY = 0.35
DOWNSCALE_SHORT_SIDE = (32, 72)  # a 400-px repost of a 1024-px original, relative to 128
JPEG_PROBABILITY = 0.75
JPEG_QUALITY = (30, 90)


def random_crop(image: np.ndarray, rng: Rng) -> np.ndarray:
    height, width = image.shape[:2]
    area = rng.uniform(CROP_MIN_AREA, 1.0)
    ratio = np.exp(rng.uniform(np.log(0.75), np.log(1.333)))
    crop_w = min(width, max(8, round(width * np.sqrt(area * ratio))))
    crop_h = min(height, max(8, round(height * np.sqrt(area / ratio))))
    y = int(rng.integers(0, height - crop_h + 1))
    x = int(rng.integers(0, width - crop_w + 1))
    return image[y : y + crop_h, x : x + crop_w]


def rotate(image: np.ndarray, rng: Rng) -> np.ndarray:
    """Small rotation, then the largest centred crop without the corner fill."""
    height, width = image.shape[:2]
    angle = float(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES))
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    rotated = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)
    shrink = 1 - abs(np.sin(np.radians(angle))) * 1.2
    keep_h, keep_w = max(8, int(height * shrink)), max(8, int(width * shrink))
    y, x = (height - keep_h) // 2, (width - keep_w) // 2
    return rotated[y : y + keep_h, x : x + keep_w]


def border(image: np.ndarray, rng: Rng) -> np.ndarray:
    side = max(image.shape[:2])
    top, bottom, left, right = (int(side * rng.uniform(0.0, 0.12)) for _ in range(4))
    colour = (
        tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5
        else (255, 255, 255)
        if rng.random() < 0.5
        else (0, 0, 0)
    )
    bordered: np.ndarray = cv2.copyMakeBorder(
        image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=colour
    )
    return bordered


def _words(rng: Rng) -> str:
    return " ".join(
        "".join(rng.choice(list(string.ascii_letters), int(rng.integers(2, 8))))
        for _ in range(int(rng.integers(1, 5)))
    )


def text_overlay(image: np.ndarray, rng: Rng) -> np.ndarray:
    """A caption band above or below (meme style), or text written over the picture."""
    height, width = image.shape[:2]
    scale = float(rng.uniform(0.3, 1.0)) * width / 300
    thickness = max(1, round(scale * 2))
    ink = tuple(int(v) for v in rng.integers(0, 256, 3))
    if rng.random() < 0.5:
        band = int(height * rng.uniform(0.1, 0.25))
        paper = (255, 255, 255) if rng.random() < 0.6 else (0, 0, 0)
        ink = (0, 0, 0) if paper == (255, 255, 255) else (255, 255, 255)
        top, bottom = (band, 0) if rng.random() < 0.5 else (0, band)
        out = cv2.copyMakeBorder(image, top, bottom, 0, 0, cv2.BORDER_CONSTANT, value=paper)
        y = int(band * 0.65) if top else height + int(band * 0.65)
    else:
        out = image.copy()
        y = int(rng.uniform(0.15, 0.95) * height)
    x = int(rng.uniform(0.02, 0.3) * width)
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX]))
    cv2.putText(out, _words(rng), (x, y), font, scale, ink, thickness, cv2.LINE_AA)
    return out


def colour_jitter(image: np.ndarray, rng: Rng) -> np.ndarray:
    """Brightness, contrast and saturation; no hue rotation: a recoloured design is another
    picture (the hard negatives rely on that)."""
    out = image.astype(np.float32)
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.6, 1.4)
    out = (out - out.mean()) * rng.uniform(0.7, 1.3) + out.mean()
    out = out * rng.uniform(0.75, 1.25)
    jittered: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
    return jittered


def greyscale(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.repeat(grey[..., None], 3, axis=2)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    bgr = np.ascontiguousarray(image[..., ::-1])
    ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("JPEG decoding failed")
    return np.ascontiguousarray(decoded[..., ::-1])


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """The inference resize (factcheck.core.descriptor.preprocess)."""
    shrink = min(image.shape[:2]) >= size
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def augmented_view(image: np.ndarray, rng: Rng, size: int) -> np.ndarray:
    """One random repost of `image` (uint8 RGB), as a (size, size, 3) uint8 array."""
    view = image
    if rng.random() < CROP_PROBABILITY:
        view = random_crop(view, rng)
    if rng.random() < MIRROR_PROBABILITY:
        view = view[:, ::-1]
    view = np.ascontiguousarray(view)
    if rng.random() < ROTATION_PROBABILITY:
        view = rotate(view, rng)
    if rng.random() < BORDER_PROBABILITY:
        view = border(view, rng)
    if rng.random() < TEXT_PROBABILITY:
        view = text_overlay(view, rng)
    if rng.random() < COLOUR_PROBABILITY:
        view = colour_jitter(view, rng)
    if rng.random() < GREY_PROBABILITY:
        view = greyscale(view)
    height, width = view.shape[:2]
    short = (
        rng.integers(*DOWNSCALE_SHORT_SIDE)
        if rng.random() < DOWNSCALE_PROBABILITY
        else rng.integers(size, max(size + 1, min(height, width)) + 1)
    )
    scale = min(1.0, float(short) / min(height, width))
    if scale < 1.0:
        view = cv2.resize(view, scaled_size(view.shape, scale, 8), interpolation=cv2.INTER_AREA)
    if rng.random() < JPEG_PROBABILITY:
        view = jpeg(view, int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))
    return resize_square(view, size)
