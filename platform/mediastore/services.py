"""Store media content-addressed: one file and one row per distinct content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from mediastore.images import FORMAT_EXTENSIONS, ImageInfo, inspect_image
from mediastore.models import MediaObject
from mediastore.selectors import media_by_sha256


@dataclass(frozen=True)
class StoredMedia:
    media: MediaObject
    created: bool


@dataclass(frozen=True)
class PreparedMedia:
    """New content, validated and written to storage; its row is made by media_row_create."""

    sha256: str
    name: str
    info: ImageInfo
    size: int


def media_storage_name(sha256: str, image_format: str) -> str:
    return f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}.{FORMAT_EXTENSIONS[image_format]}"


def media_prepare(
    *, content: bytes, sha256: str = "", allow_animated: bool = True
) -> MediaObject | PreparedMedia:
    """The stored row for content already known; otherwise validate and write the file.

    Raises ImageRejected before anything is written when the bytes are not an acceptable image.
    For a caller that creates the row inside its own transaction (one commit for the media row
    and what refers to it); media_store does both steps.
    """
    sha256 = sha256 or hashlib.sha256(content).hexdigest()
    existing = media_by_sha256(sha256)
    if existing is not None:
        return existing
    info = inspect_image(content, allow_animated=allow_animated)
    name = media_storage_name(sha256, info.format)
    # Same name means same bytes, so an existing file (a concurrent or interrupted store) is reused.
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(content))
        if saved != name:
            default_storage.delete(saved)
    return PreparedMedia(sha256=sha256, name=name, info=info, size=len(content))


def media_row_create(prepared: PreparedMedia) -> MediaObject:
    """The row of prepared media. Raises IntegrityError when a concurrent store made it first
    (inside a transaction, which is then broken: roll it back, or use a savepoint)."""
    return MediaObject.objects.create(
        sha256=prepared.sha256,
        file=prepared.name,
        mime=prepared.info.mime,
        format=prepared.info.format,
        size=prepared.size,
        width=prepared.info.width,
        height=prepared.info.height,
    )


def media_store(*, content: bytes, allow_animated: bool = True) -> StoredMedia:
    """Validate the image and store it once; storing the same bytes again returns the same row.

    Raises ImageRejected before anything is written when the bytes are not an acceptable image.
    """
    prepared = media_prepare(content=content, allow_animated=allow_animated)
    if isinstance(prepared, MediaObject):
        return StoredMedia(prepared, created=False)
    try:
        with transaction.atomic():
            media = media_row_create(prepared)
    except IntegrityError:
        return StoredMedia(MediaObject.objects.get(sha256=prepared.sha256), created=False)
    return StoredMedia(media, created=True)


def media_read(media: MediaObject) -> bytes:
    with default_storage.open(str(media.file.name), "rb") as handle:
        return handle.read()
