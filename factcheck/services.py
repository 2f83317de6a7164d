"""Writes for verified originals: add (fingerprint once, index on commit) and remove."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.models import User
from accounts.services import audit_record
from factcheck.core.fingerprints import pdq_hash
from factcheck.core.matcher import Embedder
from factcheck.embedding import EmbeddingUnavailable, configured_embedder, embedding_tag
from factcheck.indexing import IndexChange, index_rebuild, local_index_kept
from factcheck.models import Fingerprint, PendingIndexRemoval, Reference, ReferenceVideo
from factcheck.reference_source import features_compute_and_store, read_media_rgb
from factcheck.video_store import (
    poster_store,
    poster_time,
    sample_interval,
    samples_store,
    video_fingerprint_store,
    video_read,
)
from mediastore.images import ImageRejected, load_rgb
from mediastore.links import http_url_check
from mediastore.models import MediaObject
from mediastore.services import media_store

FEATURES_PREFIX = "features/v1"
MAX_SOURCE_LENGTH = 200
# Originals decoded at once by references_embed: bounds its memory (a 24-MP original is 72 MB).
EMBED_BATCH_SIZE = 16
# A reference video's poster is picked among frames sampled this often (its first keyframe's).
POSTER_SAMPLE_SECONDS = 1.0


@dataclass(frozen=True)
class ReferenceAdded:
    reference: Reference
    created: bool


def features_storage_name(sha256: str) -> str:
    return f"{FEATURES_PREFIX}/{sha256[:2]}/{sha256}.npz"


def embedding_of(image: np.ndarray) -> tuple[bytes | None, str]:
    """(the image's global embedding as float32 bytes, its tag), or (None, "") without one."""
    embedder = configured_embedder()
    if embedder is None:
        return None, ""
    vector = embedder.embed([image])[0].astype(np.float32)
    return vector.tobytes(), embedding_tag()


def reference_add(
    *,
    content: bytes,
    source: str,
    external_id: str = "",
    url: str = "",
    caption: str = "",
    credit: str = "",
    licence: str = "",
    published_at: datetime.date | None = None,
    actor: User | None = None,
) -> ReferenceAdded:
    """Make an image or a video a verified original. Adding the same content again returns the
    first one.

    Raises mediastore.images.ImageRejected or mediastore.videos.VideoRejected (nothing stored)
    for unacceptable media, including animated images: an original is a single picture or a
    video, and mediastore.links.UnsafeLink for a `url` that is not http(s) (the review UI links
    it). A video is fingerprinted in time (factcheck.video_store) and its poster keyframe
    as an image.
    """
    source = source.strip()
    if not source or len(source) > MAX_SOURCE_LENGTH:
        raise ValueError(f"source must be 1 to {MAX_SOURCE_LENGTH} characters")
    url = http_url_check(url, field="url")
    stored = media_store(content=content, allow_animated=False, allow_video=True)
    existing = Reference.objects.filter(media=stored.media).first()
    if existing is not None:
        return ReferenceAdded(existing, created=False)
    video: ReferenceVideo | None = None
    if stored.media.kind == MediaObject.Kind.VIDEO:
        video, image = _video_fingerprint(content, stored.media)
    else:
        image = load_rgb(content)
    fingerprint = _fingerprint(image, sha256=stored.media.sha256)
    fields = {
        "source": source,
        "external_id": external_id,
        "url": url,
        "caption": caption,
        "credit": credit,
        "licence": licence,
        "published_at": published_at,
    }
    try:
        with transaction.atomic():
            reference = Reference.objects.create(media=stored.media, created_by=actor, **fields)
            fingerprint.reference = reference
            fingerprint.save()
            if video is not None:
                video.reference = reference
                video.save()
            audit_record(
                actor=actor, action="reference.add", target=reference, data={"source": source}
            )
            _enqueue_index_update(add_ids=[reference.pk])
    except IntegrityError:  # the same content added concurrently: the first one wins
        return ReferenceAdded(Reference.objects.get(media=stored.media), created=False)
    return ReferenceAdded(reference, created=True)


def _video_fingerprint(content: bytes, media: MediaObject) -> tuple[ReferenceVideo, np.ndarray]:
    """The (unsaved) ReferenceVideo of a stored video, its fingerprint file written, and its
    poster keyframe."""
    duration = media.duration_s or 0.0
    read = video_read(
        content,
        fps=media.fps or 0.0,
        sample_every_s=sample_interval(duration, POSTER_SAMPLE_SECONDS),
    )
    fingerprint = read.fingerprint
    poster = read.sample_near(poster_time(fingerprint))
    video = ReferenceVideo(
        fingerprint_file=video_fingerprint_store(media.sha256, fingerprint),
        samples_file=samples_store(media.sha256, read.embeddings),
        poster_file=poster_store(media.sha256, poster),
        duration_s=fingerprint.duration_s or duration,
        fps=fingerprint.fps,
        frames=len(fingerprint.frames),
        keyframes=len(fingerprint.keyframes),
    )
    return video, poster


def _fingerprint(image: np.ndarray, *, sha256: str) -> Fingerprint:
    """Compute what retrieval needs (unsaved); the features file is content-addressed too.

    SIFT is most of a reference's cost (about 140 of 160 ms of CPU per 1024-px original). Its
    features are needed at intake only to feed the local-descriptor index; once that index is
    off (FACTCHECK_LOCAL_INDEX_MAX_REFERENCES), they are computed the first time the reference
    is verified as a candidate (factcheck.reference_source) and kept from then on."""
    pdq = pdq_hash(image)
    embedding, embedding_model = embedding_of(image)
    features_name = features_storage_name(sha256)
    if local_index_kept() and not default_storage.exists(features_name):
        features_compute_and_store(features_name, image)
    return Fingerprint(
        pdq=pdq.bits.tobytes(),
        pdq_quality=pdq.quality,
        embedding=embedding,
        embedding_model=embedding_model,
        features_file=features_name,
    )


@dataclass
class ReferencesEmbedded:
    embedded: int
    tag: str
    skipped: list[str] = field(default_factory=list)  # "reference <id>: why", original unread
    index: IndexChange = field(default_factory=IndexChange)


def references_embed(
    *,
    batch_size: int = EMBED_BATCH_SIZE,
    everything: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReferencesEmbedded:
    """Store the configured global embedding of every reference that lacks one in its space
    (`everything`: of every reference), `batch_size` originals at a time, then rebuild the
    indexes once. Idempotent: a second run embeds nothing. `progress(done, total)` after each
    batch (references handled so far, out of those to embed).

    Raises EmbeddingUnavailable when no embedding is configured (or it cannot be loaded).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    embedder = configured_embedder()
    if embedder is None:
        raise EmbeddingUnavailable(
            "no global embedding is configured: set CLIP_MODEL_NAME, or "
            "FACTCHECK_DESCRIPTOR_CONFIG to a descriptor config (it is empty, or unset while the "
            "shipped checkpoint is absent)"
        )
    tag = embedding_tag()
    rows = Fingerprint.objects.all()
    if not everything:
        rows = rows.exclude(Q(embedding_model=tag) & Q(embedding__isnull=False))
    ids = list(rows.order_by("reference_id").values_list("pk", flat=True))
    result = ReferencesEmbedded(embedded=0, tag=tag)
    for start in range(0, len(ids), batch_size):
        batch = ids[start : start + batch_size]
        result.embedded += _embed_batch(batch, embedder, tag, result.skipped)
        if progress is not None:
            progress(start + len(batch), len(ids))
    result.index = index_rebuild()
    return result


def _embed_batch(
    fingerprint_ids: list[int], embedder: Embedder, tag: str, skipped: list[str]
) -> int:
    fingerprints, images = [], []
    rows = Fingerprint.objects.filter(pk__in=fingerprint_ids).select_related("reference__media")
    # A video's fingerprint describes its poster keyframe, stored as an image of its own.
    posters = dict(
        ReferenceVideo.objects.filter(reference__fingerprint__pk__in=fingerprint_ids).values_list(
            "reference_id", "poster_file"
        )
    )
    for fingerprint in rows.order_by("reference_id"):
        name = posters.get(fingerprint.reference_id) or fingerprint.reference.media.file.name
        try:
            images.append(read_media_rgb(str(name)))
        except (OSError, ImageRejected) as error:
            reason = f"cannot read the original ({error})"
            skipped.append(f"reference {fingerprint.reference_id}: {reason}")
            continue
        fingerprints.append(fingerprint)
    if not images:
        return 0
    vectors = embedder.embed(images).astype(np.float32)
    for fingerprint, vector in zip(fingerprints, vectors, strict=True):
        fingerprint.embedding = vector.tobytes()
        fingerprint.embedding_model = tag
    # Only these two columns: index updates may flip the outbox flag meanwhile.
    Fingerprint.objects.bulk_update(fingerprints, ["embedding", "embedding_model"])
    return len(fingerprints)


def reference_remove(*, reference: Reference, actor: User | None = None) -> None:
    """Delete a reference; it leaves every index once the deletion commits (the outbox row
    makes sure it does even if the process dies before the index update runs)."""
    with transaction.atomic():
        reference_id = reference.pk
        PendingIndexRemoval.objects.create(reference_id=reference_id)
        audit_record(
            actor=actor,
            action="reference.remove",
            target=reference,
            data={"source": reference.source, "external_id": reference.external_id},
        )
        reference.delete()
        _enqueue_index_update(remove_ids=[reference_id])


def _enqueue_index_update(*, add_ids: Sequence[int] = (), remove_ids: Sequence[int] = ()) -> None:
    from factcheck.tasks import update_index

    transaction.on_commit(functools.partial(update_index.delay, list(add_ids), list(remove_ids)))
