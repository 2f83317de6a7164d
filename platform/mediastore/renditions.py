"""Display-sized renditions of stored images: review pages show these, not the full original
(a 16 MB photo or a full-size forensic map), with the original one click away.

A rendition is made on its first request and kept in storage, named by the content it comes from
(`renditions/<key>-<side>.<ext>`: the media's SHA-256, or for a report artifact the hash of its
immutable storage name), so every later request, from any page, reads the same file.
"""

from __future__ import annotations

import hashlib
import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps

# The long side of a display rendition, in pixels: sharp on a 1440 px wide screen's viewer at
# "Fit" and up to about 2x on the evidence column, a fraction of a phone photo's bytes.
MAX_DISPLAY_SIDE = 1600
RENDITIONS_DIR = "renditions"
JPEG_QUALITY = 85


def name_key(name: str) -> str:
    """A content key for a stored file whose name never changes (report artifacts)."""
    return hashlib.sha256(name.encode()).hexdigest()


def display_rendition(*, name: str, key: str) -> tuple[str, str] | None:
    """(storage name, content type) of a copy of the stored image `name` whose long side is at
    most MAX_DISPLAY_SIDE, made now if it is not stored yet; None when the image already fits
    (serve it as it is). Photos become JPEG; greyscale maps and pictures with transparency PNG."""
    with default_storage.open(name, "rb") as handle:
        image = Image.open(handle)
        if max(image.size) <= MAX_DISPLAY_SIDE:
            return None
        lossless = image.mode in ("L", "LA", "P", "RGBA", "I", "I;16", "1")
        extension, content_type = ("png", "image/png") if lossless else ("jpg", "image/jpeg")
        target = f"{RENDITIONS_DIR}/{key}-{MAX_DISPLAY_SIDE}.{extension}"
        if default_storage.exists(target):
            return target, content_type
        if image.format == "JPEG":  # decode at a reduced scale: far less work for big photos
            image.draft("RGB", (MAX_DISPLAY_SIDE, MAX_DISPLAY_SIDE))
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((MAX_DISPLAY_SIDE, MAX_DISPLAY_SIDE), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if lossless:
            keep = "L" if upright.mode in ("L", "1", "I", "I;16") else "RGBA"
            upright.convert(keep).save(buffer, format="PNG", compress_level=6)
        else:
            upright.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
    saved = default_storage.save(target, ContentFile(buffer.getvalue()))
    if saved != target:  # made by a concurrent request meanwhile: keep the one file
        default_storage.delete(saved)
    return target, content_type
