"""Reference features and images from the database and media storage, cached per process.

Verification needs each candidate's local features and localisation needs its pixels; reading and
decoding them per query would cost more than the matching itself, so both are kept in bounded
LRU caches (bounded by bytes, not entries: one 24-MP original weighs as much as a hundred small
ones). Cache keys are the content-addressed storage names, so a cached entry can never belong to
another reference, and removal needs no invalidation: the database lookup that precedes every
cache access fails for a removed reference.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage

from factcheck.core.features import Features, extract_features
from factcheck.core.matcher import Match
from factcheck.embedding import embedding_tag
from factcheck.models import Fingerprint, Reference
from mediastore.images import load_rgb
from mediastore.services import stored_once


class ReferenceMissing(LookupError):
    """The reference (or its fingerprint) no longer exists."""


class BytesLRU:
    """Thread-safe LRU cache bounded by the total size of its values in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: str, value: Any, size: int) -> None:
        if size > self.max_bytes:
            return  # would evict everything else and still not fit
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted

    def get_or_load(self, key: str, load: Callable[[], Any], sizeof: Callable[[Any], int]) -> Any:
        value = self.get(key)
        if value is None:
            value = load()  # outside the lock: concurrent misses may both load, which is harmless
            self.put(key, value, sizeof(value))
        return value


def read_features_file(name: str) -> Features:
    with default_storage.open(name, "rb") as handle:
        return Features.from_bytes(handle.read())


def features_read_or_compute(name: str, image: Callable[[], np.ndarray]) -> Features:
    """The stored features, or, when they were never computed (references added while the local
    index is off skip SIFT at intake, see factcheck.services) or were lost, computed from the
    original once and kept."""
    try:
        return read_features_file(name)
    except FileNotFoundError:
        return features_compute_and_store(name, image())


def features_compute_and_store(name: str, image: np.ndarray) -> Features:
    """SIFT features of a reference, written under their content-addressed `name` unless a file
    is there already (two writers write the same bytes; the second one skips)."""
    features = extract_features(image)
    stored_once(name, features.to_bytes())
    return features


def read_media_rgb(name: str) -> np.ndarray:
    with default_storage.open(name, "rb") as handle:
        return load_rgb(handle.read())


def _features_bytes(features: Features) -> int:
    return int(features.points.nbytes + features.descriptors.nbytes)


class StoredReferences:
    """`ReferenceSource` (factcheck.core.matcher) over Fingerprint rows and media storage."""

    def __init__(self, *, features_cache_bytes: int, image_cache_bytes: int) -> None:
        self.features_cache = BytesLRU(features_cache_bytes)
        self.image_cache = BytesLRU(image_cache_bytes)

    def load_reference_features(self, ref_id: int) -> Features:
        row = (
            Fingerprint.objects.filter(reference_id=ref_id)
            .values_list("features_file", "reference__media__file", "reference__video__poster_file")
            .first()
        )
        if row is None:
            raise ReferenceMissing(f"reference {ref_id} has no fingerprint")
        features_name, media_name, poster_name = row
        media_name = poster_name or media_name
        return self.features_cache.get_or_load(
            features_name, lambda: self._features(features_name, media_name), _features_bytes
        )

    def _features(self, features_name: str, media_name: str) -> Features:
        return features_read_or_compute(features_name, lambda: self._image(media_name))

    def embedding_vectors(self, ref_ids: list[int]) -> dict[int, np.ndarray]:
        """Full-precision global embeddings in the configured space (for exact re-ranking); one
        query, and not cached: a few dozen 1-2 KB rows per search."""
        tag = embedding_tag()
        if not tag:
            return {}
        rows = Fingerprint.objects.filter(
            reference_id__in=ref_ids, embedding_model=tag
        ).values_list("reference_id", "embedding")
        return {ref_id: np.frombuffer(bytes(blob), np.float32) for ref_id, blob in rows if blob}

    def load_reference_image(self, ref_id: int) -> np.ndarray:
        """The reference's picture: the image, or a video's poster keyframe (what its
        Fingerprint row describes)."""
        names = Reference.objects.filter(pk=ref_id).values_list("media__file", "video__poster_file")
        found = names.first()
        if found is None:
            raise ReferenceMissing(f"reference {ref_id} does not exist")
        media_name, poster_name = found
        return self._image(poster_name or media_name)

    def _image(self, media_name: str) -> np.ndarray:
        return self.image_cache.get_or_load(
            media_name, lambda: read_media_rgb(media_name), lambda image: int(image.nbytes)
        )


_source: StoredReferences | None = None
_source_lock = threading.Lock()


def stored_references() -> StoredReferences:
    """The process-wide source, so its caches outlive single queries."""
    global _source
    with _source_lock:
        if _source is None:
            _source = StoredReferences(
                features_cache_bytes=settings.FACTCHECK_FEATURES_CACHE_BYTES,
                image_cache_bytes=settings.FACTCHECK_IMAGE_CACHE_BYTES,
            )
        return _source


def reference_summary(reference: Reference) -> dict[str, Any]:
    return {
        "id": str(reference.pk),
        "external_id": reference.external_id,
        "source": reference.source,
        "url": reference.url,
        "credit": reference.credit,
        "caption": reference.caption,
        "published_at": reference.published_at.isoformat() if reference.published_at else None,
    }


def match_item(match: Match, reference: Reference) -> dict[str, Any]:
    """The report's `matches` item of a verified match, with its reference object."""
    item = match.to_dict()
    item.pop("reference_id")
    return {"reference": reference_summary(reference), **item}
