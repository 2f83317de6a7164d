"""Smaller renditions of stored images: display-sized copies that review pages show instead of
the full original (a 16 MB photo or a full-size forensic map), with the original one click away,
and the queue's thumbnails (a video's shows one of its frames).

A rendition is made on its first request and kept in storage, named by the content it comes from
(`renditions/<key>-<side>.<ext>`: the media's SHA-256, or for a report artifact the hash of its
immutable storage name), so every later request, from any page, reads the same file. Submitted
media become pixels for a thumbnail only through `images.load_rgb` (the intake gate).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps

from mediastore.images import ImageRejected, load_rgb
from mediastore.models import MediaObject
from mediastore.videos import VideoRejected, iter_frames

# The long side of a display rendition, in pixels: sharp on a 1440 px wide screen's viewer at
# "Fit" and up to about 2x on the evidence column, a fraction of a phone photo's bytes.
MAX_DISPLAY_SIDE = 1600
RENDITIONS_DIR = "renditions"
JPEG_QUALITY = 85
THUMBNAIL_SIZE = 160  # px, the longer side; the queue shows them at 80 CSS px (sharp on 2x screens)
THUMBNAIL_CONTENT_TYPE = "image/jpeg"
THUMBNAIL_QUALITY = 80
# A video's thumbnail shows this moment: a first frame is often a black fade-in.
VIDEO_THUMBNAIL_S = 1.0


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
    _save_once(target, buffer.getvalue())
    return target, content_type


def thumbnail_ensure(media: MediaObject, size: int = THUMBNAIL_SIZE) -> str | None:
    """The storage name of the image's thumbnail (JPEG; for a video, of its frame at
    VIDEO_THUMBNAIL_S), made on first use; None for stored files that cannot be read (the list
    then shows a placeholder)."""
    target = f"{RENDITIONS_DIR}/{media.sha256}-{size}.jpg"
    if default_storage.exists(target):
        return target
    try:
        with default_storage.open(media.file.name or "", "rb") as handle:
            content = handle.read()
        video = media.kind == MediaObject.Kind.VIDEO
        pixels = _video_frame(content, VIDEO_THUMBNAIL_S) if video else load_rgb(content)
    except (OSError, ImageRejected, VideoRejected):
        return None
    image = Image.fromarray(pixels)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    _save_once(target, buffer.getvalue())
    return target


def _video_frame(content: bytes, at_s: float) -> np.ndarray:
    """The video's first frame at or after `at_s` (its last one when it is shorter), upright,
    decoded through intake's limits."""
    shown = None
    for frame in iter_frames(content, max_side=MAX_DISPLAY_SIDE):
        shown = frame.rgb
        if frame.time_s >= at_s:
            break
    if shown is None:
        raise VideoRejected("the video has no decodable frame", code="corrupt")
    return shown


def _save_once(target: str, content: bytes) -> None:
    """Store `content` as `target`; one made by a concurrent request meanwhile (the same
    content) is kept and this copy dropped."""
    saved = default_storage.save(target, ContentFile(content))
    if saved != target:
        default_storage.delete(saved)
