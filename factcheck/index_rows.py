"""The fingerprint rows the indexes are built from, read in one pass over the database.

An index build or update reads `Fingerprint` rows (PDQ hash, embedding of the configured space,
local-features file, outbox flag) into arrays once, each row copied straight into an array sized
from the row count (`RowArray`), so N embeddings are held once, not as N buffers plus their stacked
copy; local features are read from storage one reference at a time when the local index asks for
them (`StoredFeatures`), never all at once.

The video indexes' rows (`video_rows`) come from `ReferenceVideo` rows: each video's fingerprint
and sample embeddings are read from storage one video at a time, and only the rows the indexes
keep (its distinct usable frame hashes, factcheck.core.video_candidates.indexed_frames, and its
sample embeddings of the configured space) are copied into the arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Q, QuerySet

from factcheck.core.features import Features
from factcheck.core.fingerprints import PDQ_BYTES
from factcheck.core.video_candidates import indexed_frames
from factcheck.core.video_match import DEFAULT_CONFIG
from factcheck.embedding import embedding_tag
from factcheck.models import Fingerprint, ReferenceVideo
from factcheck.reference_source import (
    ReferenceMissing,
    features_read_or_compute,
    stored_references,
)
from factcheck.video_store import stored_video_read

logger = logging.getLogger(__name__)

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

    @property
    def hash_ids(self) -> list[int]:
        """The id of each row of `hashes` (one per reference here)."""
        return self.ids


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

    def extend(self, rows: np.ndarray) -> None:
        for row in rows:
            self.append(row)

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


@dataclass
class VideoRows:
    """Reference videos' rows for the video indexes, in reference-id order: each video's
    distinct usable frame hashes (`hashes`, their reference ids in `hash_ids`) and its sample
    embeddings of `space` only (`embedding_vectors`, ids in `embedding_ids`); an id has many
    rows."""

    hash_ids: np.ndarray
    hashes: np.ndarray
    embedding_ids: np.ndarray
    embedding_vectors: np.ndarray | None
    unindexed: list[int]  # videos whose reference's outbox flag was still False when read
    space: str = ""
    unreadable: list[int] = field(default_factory=list)  # videos whose files could not be read


def video_rows(ids: Sequence[int] | None) -> VideoRows:
    """The video indexes' rows of the reference videos among `ids` (sorted, unique; None: every
    one), MARK_BATCH ids per statement; files read one video at a time."""
    rows = ReferenceVideo.objects.order_by("reference_id")
    if ids is None:
        querysets: Iterable[QuerySet[ReferenceVideo]] = [rows]
    else:
        querysets = (
            rows.filter(reference_id__in=ids[start : start + MARK_BATCH])
            for start in range(0, len(ids), MARK_BATCH)
        )
    fields = ("reference_id", "fingerprint_file", "samples_file", "reference__fingerprint__indexed")
    found = (row for part in querysets for row in part.values_list(*fields).iterator(READ_BATCH))
    space = embedding_tag()
    hashes, vectors = RowArray(np.uint8, READ_BATCH), RowArray(np.float32, READ_BATCH)
    hash_ids: list[np.ndarray] = []
    embedding_ids: list[np.ndarray] = []
    unindexed: list[int] = []
    unreadable: list[int] = []
    for reference_id, fingerprint_file, samples_file, indexed in found:
        if not indexed:
            unindexed.append(reference_id)
        try:
            # Another space's samples are not indexed: no need to read them.
            video = stored_video_read(fingerprint_file, samples_file if space else "")
        except (OSError, ValueError) as error:  # a lost or damaged file: the others still count
            logger.warning("reference video %s not indexed: %s", reference_id, error)
            unreadable.append(reference_id)
            continue
        frames = indexed_frames(video.fingerprint.frames, DEFAULT_CONFIG.min_quality)
        hashes.extend(frames)
        hash_ids.append(np.full(len(frames), reference_id, np.int64))
        samples = video.embeddings
        if samples is not None and samples.tag == space and len(samples.vectors):
            vectors.extend(samples.vectors)
            embedding_ids.append(np.full(len(samples.vectors), reference_id, np.int64))
    frame_rows = hashes.array()
    return VideoRows(
        hash_ids=np.concatenate([np.zeros(0, np.int64), *hash_ids]),
        hashes=np.zeros((0, PDQ_BYTES), np.uint8) if frame_rows is None else frame_rows,
        embedding_ids=np.concatenate([np.zeros(0, np.int64), *embedding_ids]),
        embedding_vectors=vectors.array(),
        unindexed=unindexed,
        space=space,
        unreadable=unreadable,
    )
