"""Store media content-addressed: one file and one row per distinct content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from mediastore.images import (
    FORMAT_EXTENSIONS,
    MAX_UPLOAD_BYTES,
    ImageInfo,
    inspect_image,
)
from mediastore.models import MediaObject
from mediastore.selectors import media_by_sha256
from mediastore.videos import (
    SNIFF_BYTES,
    VIDEO_FORMAT_EXTENSIONS,
    VideoInfo,
    inspect_video,
    looks_like_video,
    video_limits,
)

# One extension per accepted container; image and video format names never collide.
MEDIA_EXTENSIONS = FORMAT_EXTENSIONS | VIDEO_FORMAT_EXTENSIONS


@dataclass(frozen=True)
class StoredMedia:
    media: MediaObject
    created: bool


@dataclass(frozen=True)
class PreparedMedia:
    """New content, validated and written to storage; its row is made by media_row_create."""

    sha256: str
    name: str
    info: ImageInfo | VideoInfo
    size: int


def media_max_bytes(*, allow_video: bool) -> int:
    """The largest upload a caller may read before the gate sees it: the image cap, or the larger
    of it and VIDEO_MAX_BYTES where videos are accepted (each kind's own cap is checked by
    media_prepare)."""
    return max(MAX_UPLOAD_BYTES, video_limits().max_bytes) if allow_video else MAX_UPLOAD_BYTES


def stored_once(name: str, content: bytes) -> str:
    """Write `content` under a content-addressed `name` unless a file is there: the same name
    means the same bytes, so one left by a concurrent or interrupted store is reused."""
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(content))
        if saved != name:  # a racing writer got there first: keep its (identical) file
            default_storage.delete(saved)
    return name


def media_storage_name(sha256: str, media_format: str) -> str:
    return f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}.{MEDIA_EXTENSIONS[media_format]}"


def media_prepare(
    *, content: bytes, sha256: str = "", allow_animated: bool = True, allow_video: bool = False
) -> MediaObject | PreparedMedia:
    """The stored row for content already known; otherwise validate and write the file.

    Raises ImageRejected (or, with `allow_video`, VideoRejected for bytes that start like a
    video container) before anything is written when the bytes are not acceptable media. A
    caller that has not opted into videos gets today's answer for them: not an image.
    For a caller that creates the row inside its own transaction (one commit for the media row
    and what refers to it); media_store does both steps.
    """
    sha256 = sha256 or hashlib.sha256(content).hexdigest()
    existing = media_by_sha256(sha256)
    if existing is not None:
        if existing.kind == MediaObject.Kind.VIDEO and not allow_video:
            # Stored for a caller that accepts videos; this one would get today's refusal.
            inspect_image(content, allow_animated=allow_animated)
        return existing
    info: ImageInfo | VideoInfo
    if allow_video and looks_like_video(content[:SNIFF_BYTES]):
        info = inspect_video(content)
    else:
        info = inspect_image(content, allow_animated=allow_animated)
    name = stored_once(media_storage_name(sha256, info.format), content)
    return PreparedMedia(sha256=sha256, name=name, info=info, size=len(content))


def media_row_create(prepared: PreparedMedia) -> MediaObject:
    """The row of prepared media. Raises IntegrityError when a concurrent store made it first
    (inside a transaction, which is then broken: roll it back, or use a savepoint)."""
    info = prepared.info
    video = isinstance(info, VideoInfo)
    return MediaObject.objects.create(
        sha256=prepared.sha256,
        file=prepared.name,
        kind=MediaObject.Kind.VIDEO if video else MediaObject.Kind.IMAGE,
        mime=info.mime,
        format=info.format,
        size=prepared.size,
        # Videos as shown: upright, their display rotation applied.
        width=info.display_width if isinstance(info, VideoInfo) else info.width,
        height=info.display_height if isinstance(info, VideoInfo) else info.height,
        duration_s=info.duration_s if isinstance(info, VideoInfo) else None,
        fps=info.fps if isinstance(info, VideoInfo) else None,
    )


def media_store(
    *, content: bytes, allow_animated: bool = True, allow_video: bool = False
) -> StoredMedia:
    """Validate the image (or, with `allow_video`, the video) and store it once; storing the same
    bytes again returns the same row.

    Raises ImageRejected or VideoRejected before anything is written when the bytes are not
    acceptable media.
    """
    prepared = media_prepare(
        content=content, allow_animated=allow_animated, allow_video=allow_video
    )
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
