"""Input normalisation and "cannot be judged" checks shared by every detector."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

# Below this side length there are too few 8x8 JPEG blocks and network tiles to say anything.
MIN_IMAGE_SIDE = 64
# Standard deviation (0-255 scale) under which an image is treated as blank: no texture, no noise.
BLANK_STD_THRESHOLD = 2.0
# Images that are almost all one value (e.g. a solid frame with a tiny logo) are also blank.
BLANK_DOMINANT_FRACTION = 0.995
# Thin strips (banners, dividers) past this aspect ratio hold too little 2-D context for the
# network's windows and forensic blocks, and would be upscaled to absurd lengths to fit a window.
MAX_ASPECT_RATIO = 20.0

_MAX_UINT16 = 65535


class UnsupportedImageError(ValueError):
    """The input cannot be turned into an 8-bit RGB image; the message says why."""


@dataclass(frozen=True)
class NotApplicable:
    """Why an image cannot be judged; detectors return this instead of a score."""

    reason: str


def to_rgb_uint8(image: np.ndarray | Image.Image) -> np.ndarray:
    """Return an HxWx3 uint8 RGB array from arrays or PIL images of common layouts.

    Handles grayscale (HxW or HxWx1), alpha (HxWx4 / RGBA / LA, composited on white so that
    transparent areas do not read as black noise), 16-bit (scaled, not clipped) and palette
    (PIL "P") inputs. Anything else raises UnsupportedImageError with a clear reason.
    """
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise UnsupportedImageError(f"unsupported array shape {array.shape}: expected HxW[xC]")
    array = _to_uint8(array)
    channels = array.shape[2]
    if channels in (2, 4):
        colour, alpha = array[:, :, :-1], array[:, :, -1:].astype(np.float32) / 255.0
        array = np.rint(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return (array.astype(np.uint32) * 255 // _MAX_UINT16).astype(np.uint8)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise UnsupportedImageError("image contains NaN or infinite values")
        # Floats follow the scikit-image convention: values in [0, 1].
        if array.min() < 0.0 or array.max() > 1.0:
            raise UnsupportedImageError("float images must have values in [0, 1]")
        return np.rint(array * 255.0).astype(np.uint8)
    raise UnsupportedImageError(f"unsupported pixel type {array.dtype}")


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    # Pixels are analysed the way people see them: upright per the EXIF Orientation tag.
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode == "P":
        has_alpha = "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode in ("I;16", "I;16B", "I;16L", "I"):
        # 32-bit "I" images (16-bit PNGs, TIFFs) may hold values outside uint16: clip, not wrap.
        return to_rgb_uint8(np.clip(np.asarray(image), 0, _MAX_UINT16).astype(np.uint16))
    elif mode == "CMYK" or mode == "YCbCr" or mode == "1":
        image = image.convert("RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        raise UnsupportedImageError(f"unsupported PIL mode {mode!r}")
    return to_rgb_uint8(np.asarray(image))


def check_applicable(image: np.ndarray) -> NotApplicable | None:
    """Return a reason when the image is too small or blank to be judged, else None."""
    height, width = image.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        return NotApplicable(
            f"image is {width}x{height} px; at least {MIN_IMAGE_SIDE} px per side is needed"
        )
    if max(height, width) > MAX_ASPECT_RATIO * min(height, width):
        return NotApplicable(
            f"image is {width}x{height} px, a strip with aspect ratio above "
            f"{MAX_ASPECT_RATIO:g}:1; there is too little two-dimensional content to analyse"
        )
    gray = image.mean(axis=2) if image.ndim == 3 else image
    if float(gray.std()) < BLANK_STD_THRESHOLD:
        return NotApplicable("image is blank or near-constant; there is no content to analyse")
    values, counts = np.unique(gray.astype(np.uint8), return_counts=True)
    if counts.max() / gray.size > BLANK_DOMINANT_FRACTION:
        return NotApplicable(f"image is almost entirely one value ({int(values[counts.argmax()])})")
    return None


def bounded_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """`image` downscaled (area interpolation) so its longer side is at most `max_side`; as it
    is when it already fits."""
    longest = max(image.shape[:2])
    if longest <= max_side:
        return image
    factor = max_side / longest
    size = (round(image.shape[1] * factor), round(image.shape[0] * factor))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
