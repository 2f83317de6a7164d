"""Store media content-addressed: one file and one row per distinct content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from mediastore.images import FORMAT_EXTENSIONS, inspect_image
from mediastore.models import MediaObject


@dataclass(frozen=True)
class StoredMedia:
    media: MediaObject
    created: bool


def media_storage_name(sha256: str, image_format: str) -> str:
    return f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}.{FORMAT_EXTENSIONS[image_format]}"


def media_store(*, content: bytes, allow_animated: bool = True) -> StoredMedia:
    """Validate the image and store it once; storing the same bytes again returns the same row.

    Raises ImageRejected before anything is written when the bytes are not an acceptable image.
    """
    sha256 = hashlib.sha256(content).hexdigest()
    existing = MediaObject.objects.filter(sha256=sha256).first()
    if existing is not None:
        return StoredMedia(existing, created=False)
    info = inspect_image(content, allow_animated=allow_animated)
    name = media_storage_name(sha256, info.format)
    # Same name means same bytes, so an existing file (a concurrent or interrupted store) is reused.
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(content))
        if saved != name:
            default_storage.delete(saved)
    try:
        with transaction.atomic():
            media = MediaObject.objects.create(
                sha256=sha256,
                file=name,
                mime=info.mime,
                format=info.format,
                size=len(content),
                width=info.width,
                height=info.height,
            )
    except IntegrityError:
        return StoredMedia(MediaObject.objects.get(sha256=sha256), created=False)
    return StoredMedia(media, created=True)


def media_read(media: MediaObject) -> bytes:
    with default_storage.open(media.file.name, "rb") as handle:
        return handle.read()
