"""Small renditions of stored images for lists (the review queue): made once per content and
size, kept in media storage next to the originals, served through the callers' access checks.

Bytes become pixels only through `images.load_rgb` (the intake gate), here as everywhere.
"""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from mediastore.images import ImageRejected, load_rgb
from mediastore.models import MediaObject

THUMBNAIL_SIZE = 160  # px, the longer side; the queue shows them at 80 CSS px (sharp on 2x screens)
THUMBNAIL_CONTENT_TYPE = "image/jpeg"
THUMBNAIL_QUALITY = 80


def thumbnail_name(media: MediaObject, size: int = THUMBNAIL_SIZE) -> str:
    return f"thumbnails/{media.sha256[:2]}/{media.sha256}-{size}.jpg"


def thumbnail_ensure(media: MediaObject, size: int = THUMBNAIL_SIZE) -> str | None:
    """The storage name of the image's thumbnail, made on first use; None for videos and for
    stored files that cannot be read (the list then shows a placeholder)."""
    if media.kind != MediaObject.Kind.IMAGE:
        return None
    name = thumbnail_name(media, size)
    if default_storage.exists(name):
        return name
    try:
        with default_storage.open(media.file.name or "", "rb") as handle:
            pixels = load_rgb(handle.read())
    except (OSError, ImageRejected):
        return None
    image = Image.fromarray(pixels)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    # Two first requests at once both write: the content is the same, and storage keeps one.
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(buffer.getvalue()))
    return name
