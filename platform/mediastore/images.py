"""Image intake: the only place bytes become pixels. Decode once, refuse what is unsafe."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mediastore.structure import (
    MAX_ANIMATION_FRAMES,
    MAX_JPEG_SCANS,
    MAX_TRAILING_BYTES,
    Structure,
    StructureError,
    structure_check,
)

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_IMAGE_PIXELS = 50_000_000
MIN_IMAGE_SIDE = 8
ALLOWED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
FORMAT_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
# A JPEG APP1 segment holds at most 64 KiB, so no camera writes more EXIF than this; PNG eXIf and
# WebP EXIF chunks have no such bound and could make every reader parse megabytes.
MAX_EXIF_BYTES = 64 * 1024
_EXIF_ORIENTATIONS = range(1, 9)
_EXIF_POINTER_TAGS = (0x8769, 0x8825, 0xA005)  # Exif, GPS and Interoperability sub-IFDs
__all__ = [
    "ALLOWED_FORMATS",
    "MAX_ANIMATION_FRAMES",
    "MAX_EXIF_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_JPEG_SCANS",
    "MAX_TRAILING_BYTES",
    "MAX_UPLOAD_BYTES",
    "MIN_IMAGE_SIDE",
    "ImageInfo",
    "ImageRejected",
    "decode_rgb",
    "inspect_image",
    "load_rgb",
]

# Pillow's own guard stops a decompression bomb before it allocates; ours is the same cap, so the
# error names our limit rather than Pillow's default.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


class ImageRejected(ValueError):
    """The bytes are not an image we accept; the message is safe to show the sender."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ImageInfo:
    format: str
    mime: str
    width: int
    height: int
    animated: bool


def inspect_image(content: bytes, *, allow_animated: bool = True) -> ImageInfo:
    """Check size, format, pixel cap, container structure (end marker, trailing data, frames,
    markup), EXIF and that the whole image decodes; return its header facts."""
    _check_size(content)
    with _open(content) as image:
        image_format = _checked(image)
        width, height = image.size
        _decode_fully(image)  # first: a cut or corrupt file is named as such
        structure = _check_structure(content, image_format)
        animated = structure.frames > 1
        if animated and not allow_animated:
            raise ImageRejected("animated images are not accepted here", code="animated")
    return ImageInfo(image_format, ALLOWED_FORMATS[image_format], width, height, animated)


def load_rgb(content: bytes) -> np.ndarray:
    """Decode to an RGB uint8 array, upright per EXIF orientation (first frame if animated).

    Makes every check inspect_image makes, so bytes that reach pixels by any path (the API,
    the analyze command, a worker re-reading stored media) pass the same gate."""
    return decode_rgb(content)[0]


def decode_rgb(content: bytes) -> tuple[np.ndarray, str]:
    """load_rgb's array and the image's format (a key of ALLOWED_FORMATS), from one open."""
    _check_size(content)
    with _open(content) as image:
        image_format = _checked(image)
        _check_structure(content, image_format)
        try:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8), image_format
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageRejected(
                f"the image could not be decoded: {error}", code="corrupt"
            ) from None


def _check_size(content: bytes) -> None:
    if not content:
        raise ImageRejected("the file is empty", code="empty")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImageRejected(
            f"the file is {len(content)} bytes; the limit is {MAX_UPLOAD_BYTES}", code="too_large"
        )


def _checked(image: Image.Image) -> str:
    """Format allowlist, dimensions and EXIF of an opened image; returns its format."""
    image_format = image.format or ""
    if image_format not in ALLOWED_FORMATS:
        raise ImageRejected(
            f"format {image_format or 'unknown'} is not accepted "
            f"(accepted: {', '.join(sorted(ALLOWED_FORMATS))})",
            code="unsupported_format",
        )
    _check_dimensions(*image.size)
    _check_exif(image)
    return image_format


def _check_structure(content: bytes, image_format: str) -> Structure:
    try:
        return structure_check(content, image_format)
    except StructureError as error:
        raise ImageRejected(str(error), code=error.code) from None


def _check_exif(image: Image.Image) -> None:
    """Refuse EXIF that is oversized or that Pillow can only read by skipping parts of it.

    Orientation drives a transform of every pixel, and the report shows EXIF fields: a block
    that needs guessing (truncated IFDs, offsets past the end, sub-IFDs pointing back at
    themselves, orientation outside 1-8) is refused rather than half-read differently by each
    reader downstream."""
    raw = image.info.get("exif")
    if not raw:
        return
    tiff = raw[6:] if raw.startswith(b"Exif\0\0") else raw
    if len(tiff) > MAX_EXIF_BYTES:
        raise ImageRejected(
            f"the EXIF block is {len(tiff)} bytes; the limit is {MAX_EXIF_BYTES}", code="bad_exif"
        )
    if tiff[:4] not in (b"II*\0", b"MM\0*"):
        raise ImageRejected("the EXIF block is not valid TIFF data", code="bad_exif")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Pillow warns, then skips, on every malformed part
            exif = Image.Exif()  # parsed afresh: the opener may have read it, warnings ignored
            exif.load(raw)
            ifd0 = int.from_bytes(tiff[4:8], "little" if tiff[:2] == b"II" else "big")
            seen = {ifd0}
            for tag in _EXIF_POINTER_TAGS:
                if tag in exif:
                    if exif[tag] in seen:
                        raise ValueError(f"EXIF sub-IFD {tag:#x} points back at an earlier IFD")
                    seen.add(exif[tag])
                    exif.get_ifd(tag)
    except Exception as error:  # any failure to parse untrusted metadata is a refusal
        raise ImageRejected(f"the EXIF block is malformed ({error})", code="bad_exif") from None
    orientation = exif.get(0x0112)
    if orientation is not None and orientation not in _EXIF_ORIENTATIONS:
        raise ImageRejected(
            f"the EXIF orientation is {orientation!r}; it must be 1-8", code="bad_exif"
        )


def _open(content: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(content))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            f"the image has more than {MAX_IMAGE_PIXELS} pixels", code="too_many_pixels"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageRejected("the file is not a readable image", code="not_an_image") from None


def _check_dimensions(width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageRejected(
            f"the image is {width}x{height} pixels; the limit is {MAX_IMAGE_PIXELS} pixels",
            code="too_many_pixels",
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageRejected(
            f"the image is {width}x{height}; each side must be at least {MIN_IMAGE_SIDE} pixels",
            code="too_small",
        )


def _decode_fully(image: Image.Image) -> None:
    # Headers can be valid while the pixel data is truncated or corrupt; only a full decode tells.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            f"the image has more than {MAX_IMAGE_PIXELS} pixels", code="too_many_pixels"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageRejected(
            f"the image data is corrupt or truncated ({error})", code="corrupt"
        ) from None
