"""The fingerprint rows the indexes are built from, read in one pass over the database.

An index build or update reads `Fingerprint` rows (PDQ hash, embedding of the configured space,
local-features file, outbox flag) into arrays once, each row copied straight into an array sized
from the row count (`RowArray`), so N embeddings are held once, not as N buffers plus their stacked
copy; local features are read from storage one reference at a time when the local index asks for
them (`StoredFeatures`), never all at once.
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
READ_BATCH = 2_000  # rows per fetch from the database (Django's iterator default)


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


class RowArray:
    """Equal-length rows copied into one array as they arrive. Sized by `capacity` (the expected
    row count) at the first row, grown by half when more arrive (rows committed meanwhile)."""

    def __init__(self, dtype: type[np.generic], capacity: int) -> None:
        self._dtype = dtype
        self._capacity = max(1, capacity)
        self._data: np.ndarray | None = None
        self._count = 0

    def append(self, row: np.ndarray) -> None:
        if self._data is None:
            self._data = np.empty((self._capacity, len(row)), self._dtype)
        elif self._count == len(self._data):
            grown = np.empty(
                (len(self._data) + len(self._data) // 2 + 1, self._data.shape[1]), self._dtype
            )
            grown[: self._count] = self._data
            self._data = grown
        self._data[self._count] = row
        self._count += 1

    def array(self) -> np.ndarray | None:
        """The rows, None when there were none. A view: capacity left unused was never written,
        so its pages were never made resident."""
        return None if self._data is None else self._data[: self._count]


def fingerprint_rows(condition: Q | None) -> Rows:
    rows = Fingerprint.objects.order_by("reference_id")
    selected = rows if condition is None else rows.filter(condition)
    return _rows_read([selected], expected=selected.count())


def fingerprint_rows_of(ids: Sequence[int]) -> Rows:
    """The rows of `ids` (sorted, unique): MARK_BATCH ids per statement."""
    rows = Fingerprint.objects.order_by("reference_id")
    return _rows_read(
        (
            rows.filter(reference_id__in=ids[start : start + MARK_BATCH])
            for start in range(0, len(ids), MARK_BATCH)
        ),
        expected=len(ids),
    )


def _rows_read(querysets: Iterable[QuerySet[Fingerprint]], *, expected: int) -> Rows:
    ids: list[int] = []
    embedding_ids: list[int] = []
    files: dict[int, str] = {}
    unindexed: list[int] = []
    hashes, vectors = RowArray(np.uint8, expected), RowArray(np.float32, expected)
    fields = ("reference_id", "pdq", "embedding", "embedding_model", "features_file", "indexed")
    # Embeddings of another model live in another space: only the configured space's count.
    space = embedding_tag()
    found = (row for rows in querysets for row in rows.values_list(*fields).iterator(READ_BATCH))
    for reference_id, pdq, embedding, model, features_file, indexed in found:
        ids.append(reference_id)
        hashes.append(np.frombuffer(bytes(pdq), dtype=np.uint8))
        if embedding and space and model == space:
            embedding_ids.append(reference_id)
            vectors.append(np.frombuffer(bytes(embedding), dtype=np.float32))
        files[reference_id] = features_file
        if not indexed:
            unindexed.append(reference_id)
    pdq_rows = hashes.array()
    return Rows(
        ids=ids,
        hashes=np.zeros((0, PDQ_BYTES), dtype=np.uint8) if pdq_rows is None else pdq_rows,
        embedding_ids=embedding_ids,
        embedding_vectors=vectors.array(),
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
