"""The fingerprint rows the indexes are built from, read in one pass over the database.

An index build or update reads `Fingerprint` rows (PDQ hash, embedding of the configured space,
local-features file, outbox flag) into arrays once; local features are read from storage one
reference at a time when the local index asks for them (`StoredFeatures`), never all at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from django.db.models import Q, QuerySet

from factcheck.core.features import Features
from factcheck.core.fingerprints import PDQ_BYTES
from factcheck.embedding import embedding_tag
from factcheck.models import Fingerprint
from factcheck.reference_source import (
    ReferenceMissing,
    features_read_or_compute,
    stored_references,
)

MARK_BATCH = 5_000  # ids per UPDATE ... WHERE id IN (...) statement


@dataclass
class Rows:
    """Fingerprints in reference-id order: one PDQ row per id, embeddings of `space` only."""

    ids: list[int]
    hashes: np.ndarray
    embedding_ids: list[int]
    embedding_vectors: np.ndarray | None
    features_files: dict[int, str]
    unindexed: list[int]  # rows whose outbox flag was still False when read
    space: str = ""  # the embedding tag the vectors were selected by


def fingerprint_rows(condition: Q | None) -> Rows:
    rows = Fingerprint.objects.order_by("reference_id")
    return _rows_read([rows if condition is None else rows.filter(condition)])


def fingerprint_rows_of(ids: Sequence[int]) -> Rows:
    """The rows of `ids` (sorted, unique): MARK_BATCH ids per statement."""
    rows = Fingerprint.objects.order_by("reference_id")
    return _rows_read(
        rows.filter(reference_id__in=ids[start : start + MARK_BATCH])
        for start in range(0, len(ids), MARK_BATCH)
    )


def _rows_read(querysets: Iterable[QuerySet[Fingerprint]]) -> Rows:
    ids, hashes, embedding_ids, vectors, files, unindexed = [], [], [], [], {}, []
    fields = ("reference_id", "pdq", "embedding", "embedding_model", "features_file", "indexed")
    # Embeddings of another model live in another space: only the configured space's count.
    space = embedding_tag()
    found = (row for rows in querysets for row in rows.values_list(*fields).iterator())
    for reference_id, pdq, embedding, model, features_file, indexed in found:
        ids.append(reference_id)
        hashes.append(np.frombuffer(bytes(pdq), dtype=np.uint8))
        if embedding and space and model == space:
            embedding_ids.append(reference_id)
            vectors.append(np.frombuffer(bytes(embedding), dtype=np.float32))
        files[reference_id] = features_file
        if not indexed:
            unindexed.append(reference_id)
    return Rows(
        ids=ids,
        hashes=np.stack(hashes) if hashes else np.zeros((0, PDQ_BYTES), dtype=np.uint8),
        embedding_ids=embedding_ids,
        embedding_vectors=np.stack(vectors) if vectors else None,
        features_files=files,
        unindexed=unindexed,
        space=space,
    )


class StoredFeatures(Mapping[int, Features]):
    """References' local features read from storage when asked for, one at a time, so building
    the local index never holds every reference's features (about 0.8 MB each) at once."""

    def __init__(self, files: dict[int, str]) -> None:
        self._files = files

    def __getitem__(self, ref_id: int) -> Features:
        try:
            return features_read_or_compute(
                self._files[ref_id], lambda: stored_references().load_reference_image(ref_id)
            )
        except ReferenceMissing:  # removed meanwhile: nothing to index
            return Features.empty()

    def __iter__(self) -> Iterator[int]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)
