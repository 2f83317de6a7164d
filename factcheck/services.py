"""Writes for verified originals: add (fingerprint once, index on commit) and remove."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from accounts.models import User
from accounts.services import audit_record
from factcheck.core.features import extract_features
from factcheck.core.fingerprints import pdq_hash
from factcheck.models import Fingerprint, PendingIndexRemoval, Reference
from mediastore.images import load_rgb
from mediastore.links import http_url_check
from mediastore.services import media_store

FEATURES_PREFIX = "features/v1"
MAX_SOURCE_LENGTH = 200


@dataclass(frozen=True)
class ReferenceAdded:
    reference: Reference
    created: bool


def features_storage_name(sha256: str) -> str:
    return f"{FEATURES_PREFIX}/{sha256[:2]}/{sha256}.npz"


def clip_embedding(image: np.ndarray) -> tuple[bytes | None, str]:
    """The image's CLIP embedding when a model is configured, else (None, "")."""
    if not settings.CLIP_MODEL_NAME:
        return None, ""
    from factcheck.clip_model import configured_embedder

    embedder = configured_embedder()
    vector = embedder.embed([image])[0].astype(np.float32)
    return vector.tobytes(), settings.CLIP_MODEL_NAME


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
    """Make an image a verified original. Adding the same content again returns the first one.

    Raises mediastore.images.ImageRejected (nothing stored) for unacceptable images, including
    animated ones: an original is a single picture, and mediastore.links.UnsafeLink for a `url`
    that is not http(s) (the review UI links it).
    """
    source = source.strip()
    if not source or len(source) > MAX_SOURCE_LENGTH:
        raise ValueError(f"source must be 1 to {MAX_SOURCE_LENGTH} characters")
    url = http_url_check(url, field="url")
    stored = media_store(content=content, allow_animated=False)
    existing = Reference.objects.filter(media=stored.media).first()
    if existing is not None:
        return ReferenceAdded(existing, created=False)
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
            audit_record(
                actor=actor, action="reference.add", target=reference, data={"source": source}
            )
            _enqueue_index_update(add_ids=[reference.pk])
    except IntegrityError:  # the same content added concurrently: the first one wins
        return ReferenceAdded(Reference.objects.get(media=stored.media), created=False)
    return ReferenceAdded(reference, created=True)


def _fingerprint(image: np.ndarray, *, sha256: str) -> Fingerprint:
    """Compute what retrieval needs (unsaved); the features file is content-addressed too."""
    pdq = pdq_hash(image)
    clip, clip_model = clip_embedding(image)
    features_name = features_storage_name(sha256)
    if not default_storage.exists(features_name):
        default_storage.save(features_name, ContentFile(extract_features(image).to_bytes()))
    return Fingerprint(
        pdq=pdq.bits.tobytes(),
        pdq_quality=pdq.quality,
        clip=clip,
        clip_model=clip_model,
        features_file=features_name,
    )


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

    update_index.delay_on_commit(list(add_ids), list(remove_ids))
