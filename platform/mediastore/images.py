"""Image intake: the only place bytes become pixels. Decode once, refuse what is unsafe."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

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
    """Check size, format, pixel cap and that the whole image decodes; return its header facts."""
    if not content:
        raise ImageRejected("the file is empty", code="empty")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImageRejected(
            f"the file is {len(content)} bytes; the limit is {MAX_UPLOAD_BYTES}", code="too_large"
        )
    with _open(content) as image:
        image_format = image.format or ""
        if image_format not in ALLOWED_FORMATS:
            raise ImageRejected(
                f"format {image_format or 'unknown'} is not accepted "
                f"(accepted: {', '.join(sorted(ALLOWED_FORMATS))})",
                code="unsupported_format",
            )
        width, height = image.size
        _check_dimensions(width, height)
        animated = bool(getattr(image, "is_animated", False))
        if animated and not allow_animated:
            raise ImageRejected("animated images are not accepted here", code="animated")
        _decode_fully(image)
    return ImageInfo(image_format, ALLOWED_FORMATS[image_format], width, height, animated)


def load_rgb(content: bytes) -> np.ndarray:
    """Decode to an RGB uint8 array, upright per EXIF orientation (first frame if animated)."""
    with _open(content) as image:
        _check_dimensions(*image.size)
        try:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as error:
            raise ImageRejected(
                f"the image could not be decoded: {error}", code="corrupt"
            ) from None


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
