"""Reading fingerprint rows for an index build holds each embedding once."""

import tracemalloc

import numpy as np
import pytest

from factcheck import index_rows
from factcheck.index_rows import RowArray, fingerprint_rows, fingerprint_rows_of
from factcheck.models import Fingerprint, Reference
from mediastore.models import MediaObject

SPACE = "test-space"
DIM = 512


def _insert(count: int, start: int = 0) -> np.ndarray:
    rng = np.random.default_rng(start)
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    media = MediaObject.objects.bulk_create(
        MediaObject(
            sha256=f"{i:064x}",
            file=f"rows/{i}",
            mime="image/png",
            format="PNG",
            size=1,
            width=1,
            height=1,
        )
        for i in range(start, start + count)
    )
    references = Reference.objects.bulk_create(Reference(media=m, source="rows") for m in media)
    Fingerprint.objects.bulk_create(
        Fingerprint(
            reference=reference,
            pdq=bytes([i % 256]) * 32,
            pdq_quality=100,
            embedding=vector.tobytes(),
            embedding_model=SPACE,
            features_file="",
        )
        for i, (reference, vector) in enumerate(zip(references, vectors, strict=True))
    )
    return vectors


@pytest.mark.django_db
def test_each_embedding_is_held_once_while_rows_are_read(settings, monkeypatch):
    """Per-row buffers stacked at the end held every embedding twice (2.3x their bytes at the
    peak). The driver's fetch batch is made small so it does not hide the difference."""
    settings.CLIP_MODEL_NAME = SPACE
    monkeypatch.setattr(index_rows, "READ_BATCH", 50)
    vectors = _insert(3000)
    tracemalloc.start()
    try:
        rows = fingerprint_rows(None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows.embedding_vectors is not None
    np.testing.assert_array_equal(rows.embedding_vectors, vectors)
    assert rows.hashes.shape == (3000, 32)
    assert peak < 1.3 * vectors.nbytes


@pytest.mark.django_db
def test_rows_of_some_ids_keep_their_order(settings):
    settings.CLIP_MODEL_NAME = SPACE
    vectors = _insert(20)
    wanted = sorted(Reference.objects.values_list("id", flat=True))[5:9]
    rows = fingerprint_rows_of(wanted)
    assert rows.ids == wanted
    assert rows.embedding_vectors is not None
    np.testing.assert_array_equal(rows.embedding_vectors, vectors[5:9])


def test_row_array_grows_past_its_capacity_and_is_none_when_empty():
    assert RowArray(np.float32, 10).array() is None
    rows = RowArray(np.float32, 2)
    for value in range(7):
        rows.append(np.full(3, value, np.float32))
    array = rows.array()
    assert array is not None
    np.testing.assert_array_equal(array[:, 0], np.arange(7))
