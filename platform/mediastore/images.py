"""Image intake: the only place bytes become pixels. Decode once, refuse what is unsafe."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mediastore.refusals import MediaRejected
from mediastore.structure import (
    MAX_ANIMATION_FRAMES,
    MAX_JPEG_SCANS,
    MAX_JPEG_TRAILING_BYTES,
    MAX_TRAILING_BYTES,
    Structure,
    StructureError,
    container_format,
    structure_check,
    trailing_bytes,
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
# Pillow names a JPEG with an MPF index of second images (cameras' previews, depth and gain
# maps) MPO; its primary image is an ordinary JPEG, and that is the one analysed and served.
_FORMAT_ALIASES = {"MPO": "JPEG"}
# Every scan of a progressive JPEG is a pass of the decoder over the whole image (up to 31 ms
# per scan at 49 megapixels on the build machine, docs/benchmarks.md), so scans x pixels bounds
# the decode: 20 scans at the 50-megapixel cap (libjpeg writes 10 for colour, 18 for CMYK), up
# to MAX_JPEG_SCANS at 10 megapixels and below.
MAX_JPEG_SCAN_PIXELS = 20 * MAX_IMAGE_PIXELS
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
    "MAX_JPEG_SCAN_PIXELS",
    "MAX_JPEG_TRAILING_BYTES",
    "MAX_TRAILING_BYTES",
    "MAX_UPLOAD_BYTES",
    "MIN_IMAGE_SIDE",
    "ImageInfo",
    "ImageRejected",
    "decode_rgb",
    "inspect_image",
    "load_rgb",
    "trailing_bytes",
]

# Pillow's own guard stops a decompression bomb before it allocates; ours is the same cap, so the
# error names our limit rather than Pillow's default.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


class ImageRejected(MediaRejected):
    """The bytes are not an image we accept (413 over MAX_UPLOAD_BYTES)."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    mime: str
    width: int
    height: int
    animated: bool


def inspect_image(content: bytes, *, allow_animated: bool = True) -> ImageInfo:
    """Check size, format, container structure (end marker, trailing data, frames, scans, block
    counts, markup), pixel cap, EXIF and that the whole image decodes; return its header facts."""
    with _gated(content) as (image, image_format, structure):
        width, height = image.size
        _decode_fully(image)
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
    with _gated(content) as (image, image_format, _):
        try:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8), image_format
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageRejected(
                f"the image could not be decoded: {error}", code="corrupt"
            ) from None


@contextmanager
def _gated(content: bytes) -> Iterator[tuple[Image.Image, str, Structure]]:
    """The opened image, its format and structure, once every check short of decoding passed.

    The container walk comes first: it is cheap whatever the bytes hold, and Pillow's header
    parsers are not (they step through fill bytes and blocks one Python call at a time)."""
    _check_size(content)
    container = container_format(content)
    if container is None:
        raise _not_allowed(content)
    structure = _check_structure(content, container)
    with _open(content, container) as image:
        image_format = _checked(image)
        if image_format != container:  # Pillow tells the four apart by the same signatures
            raise ImageRejected(
                "the file's signature does not match its image data", code="not_an_image"
            )
        _check_scan_budget(structure, *image.size)
        yield image, image_format, structure


def _not_allowed(content: bytes) -> ImageRejected:
    """The refusal of bytes that are none of the allowed containers. Pillow's signature tests
    name the format; none of its other parsers ever reads the bytes."""
    Image.init()
    prefix = content[:16]  # what Image.open hands the same tests
    for image_format, (_, accepts) in Image.OPEN.items():
        try:
            recognised = accepts is not None and accepts(prefix) is True
        except Exception:  # a plugin's signature test on a short prefix; not this format
            recognised = False
        if recognised:
            return ImageRejected(
                f"format {image_format} is not accepted "
                f"(accepted: {', '.join(sorted(ALLOWED_FORMATS))})",
                code="unsupported_format",
            )
    return ImageRejected("the file is not a readable image", code="not_an_image")


def _check_size(content: bytes) -> None:
    if not content:
        raise ImageRejected("the file is empty", code="empty")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImageRejected(
            f"the file is {len(content)} bytes; the limit is {MAX_UPLOAD_BYTES}", code="too_large"
        )


def _checked(image: Image.Image) -> str:
    """Format allowlist, dimensions and EXIF of an opened image; returns its format."""
    image_format = _FORMAT_ALIASES.get(image.format or "", image.format or "")
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


def _check_scan_budget(structure: Structure, width: int, height: int) -> None:
    if structure.scans * width * height > MAX_JPEG_SCAN_PIXELS:
        allowed = MAX_JPEG_SCAN_PIXELS // (width * height)
        raise ImageRejected(
            f"the JPEG has {structure.scans} scans over {width}x{height} pixels; at most "
            f"{allowed} scans are allowed at this size",
            code="too_many_scans",
        )


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


def _open(content: bytes, container: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the container's own plugin (JPEG's also answers MPO) parses the bytes.
            return Image.open(io.BytesIO(content), formats=[container])
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
