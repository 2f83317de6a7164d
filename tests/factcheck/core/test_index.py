import json
import threading

import numpy as np
import pytest

from factcheck.core import index as index_module
from factcheck.core.index import (
    BinaryIndexConfig,
    ClipIndex,
    FloatIndexConfig,
    PdqIndex,
    best_distance_per_id,
)
from factcheck.core.index_store import (
    IndexCorruptError,
    IndexStore,
    load_index,
    read_manifest,
    save_index,
)

RNG = np.random.default_rng(7)
HASHES = RNG.integers(0, 256, (3000, 32), dtype=np.uint8)
IDS = np.arange(3000, dtype=np.int64) * 10 + 5


def _unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_flat_below_threshold_approximate_above():
    small = PdqIndex.build(HASHES[:100], IDS[:100], BinaryIndexConfig(flat_max_size=100))
    large = PdqIndex.build(HASHES, IDS, BinaryIndexConfig(flat_max_size=100))
    assert (small.kind, large.kind) == ("flat", "mih")
    assert (small.radius, large.radius) == (None, 47)
    assert (small.dihedral_radius, large.dihedral_radius) == (None, 35)
    vectors = _unit(3000, 16)
    config = FloatIndexConfig(dim=16, flat_max_size=1000, pca_dim=8)
    assert ClipIndex.build(vectors[:1000], IDS[:1000], config).kind == "flat"
    assert ClipIndex.build(vectors, IDS, config).kind == "ivfsq"


def test_approximate_clip_index_add_search_remove_persist():
    # Embeddings live near a low-dimensional subspace, which is what the PCA step relies on.
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3000, 12)) @ rng.normal(size=(12, 32)) + 0.01 * rng.normal(
        size=(3000, 32)
    )
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    config = FloatIndexConfig(dim=32, kind="ivfsq", pca_dim=16, nprobe=64)
    index = ClipIndex.build(vectors[:2500], IDS[:2500], config)
    index.add(vectors[2500:], IDS[2500:])
    found, _ = index.search(vectors[[0, 2900]], k=5)  # approximate: near the top, not always 1st
    assert IDS[0] in found[0] and IDS[2900] in found[1]
    assert index.remove(IDS[:1]) == 1 and len(index) == 2999
    restored = ClipIndex.deserialize(index.serialize(), "ivfsq", config)
    assert IDS[0] not in restored.search(vectors[:1], k=5)[0][0]
    assert IDS[2900] in restored.search(vectors[[2900]], k=5)[0][0]


def test_an_embedding_index_added_in_batches_equals_one_added_at_once(monkeypatch):
    vectors = _unit(3000, 32, seed=4)
    config = FloatIndexConfig(dim=32, kind="ivfsq", pca_dim=16, nprobe=8)
    whole = ClipIndex.build(vectors, IDS, config)
    monkeypatch.setattr(index_module, "ADD_BATCH", 128)
    batched = ClipIndex.build(vectors, IDS, config)
    assert len(batched) == len(whole) == 3000
    got, expected = batched.search(vectors[:50], k=5), whole.search(vectors[:50], k=5)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("kind", ["flat", "ivf", "mih"])
def test_pdq_add_search_remove(kind):
    config = BinaryIndexConfig(kind=kind, nprobe=64, mih_bits=16, mih_flips=2)
    index = PdqIndex.build(HASHES[:2000], IDS[:2000], config)
    index.add(HASHES[2000:], IDS[2000:])
    ids, distances = index.search(HASHES[[0, 2500]], k=3)
    assert ids[:, 0].tolist() == [IDS[0], IDS[2500]] and distances[:, 0].tolist() == [0, 0]
    assert index.remove([IDS[0], 999_999]) == 1
    ids, distances = index.search(HASHES[[0]], k=1)
    assert ids[0, 0] != IDS[0] and distances[0, 0] > 0
    assert len(index) == 2999


def test_best_distance_per_id_takes_minimum_over_dihedral_queries():
    ids = np.array([[5, 7], [7, -1]])
    distances = np.array([[40, 90], [12, 257]])
    assert best_distance_per_id(ids, distances) == {7: 12, 5: 40}
    assert best_distance_per_id(ids, distances, max_distance=30) == {7: 12}


def test_clip_index_search_and_remove():
    vectors = _unit(500, 32)
    index = ClipIndex.build(vectors, IDS[:500], FloatIndexConfig(dim=32))
    ids, similarities = index.search(vectors[:2], k=2)
    assert ids[:, 0].tolist() == IDS[:2].tolist()
    assert np.allclose(similarities[:, 0], 1.0, atol=1e-5)
    index.remove(IDS[:1])
    assert index.search(vectors[:1], k=1)[0][0, 0] != IDS[0]


def test_persist_and_reload(tmp_path):
    index = PdqIndex.build(HASHES, IDS, BinaryIndexConfig(kind="ivf", nprobe=32))
    manifest = save_index(tmp_path, "pdq", index)
    assert (manifest.kind, manifest.version, manifest.count) == ("pdq", 1, 3000)
    on_disk = json.loads((tmp_path / "pdq.manifest.json").read_text())
    assert on_disk["sha256"] == manifest.sha256 and on_disk["params"]["nprobe"] == 32
    loaded, _ = load_index(tmp_path, "pdq")
    assert loaded.kind == "ivf" and loaded.index.nprobe == 32
    assert np.array_equal(loaded.search(HASHES[:5], 2)[0], index.search(HASHES[:5], 2)[0])
    assert not list(tmp_path.glob("*.tmp")), "temp files must not be left behind"


def test_checksum_mismatch_raises_clear_error(tmp_path):
    manifest = save_index(
        tmp_path, "clip", ClipIndex.build(_unit(50, 8), IDS[:50], FloatIndexConfig(dim=8))
    )
    path = tmp_path / manifest.file
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(IndexCorruptError, match="checksum mismatch"):
        load_index(tmp_path, "clip")


def test_store_reloads_newer_version_without_restart(tmp_path):
    store = IndexStore(tmp_path, "pdq")
    assert store.get() is None
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:10], IDS[:10]))
    first = store.get()
    assert len(first) == 10 and store.version == 1
    assert store.get() is first  # unchanged manifest: no reload
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:20], IDS[:20]))
    assert len(store.get()) == 20 and store.version == 2


def test_readers_never_see_partial_files(tmp_path):
    """Concurrent publishes and loads: every load either succeeds on a complete version."""
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES, IDS))
    errors: list[Exception] = []

    def reader():
        for _ in range(30):
            try:
                index, manifest = load_index(tmp_path, "pdq")
                assert len(index) == manifest.count
            except Exception as error:
                errors.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    for size in range(1000, 3000, 100):
        save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:size], IDS[:size]))
    thread.join()
    assert not errors
    assert read_manifest(tmp_path, "pdq").version == 21
    assert len(list(tmp_path.glob("pdq.v*.faiss"))) <= 2  # old versions pruned


def test_compressed_clip_index_reranks_exactly_from_stored_vectors():
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(4000, 16)) @ rng.normal(size=(16, 32))
    vectors += 0.3 * rng.normal(size=(4000, 32))  # noise the PCA drops: ranks get shuffled
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    config = FloatIndexConfig(dim=32, kind="ivfsq", pca_dim=12, nprobe=64, rerank_factor=10)
    index = ClipIndex.build(vectors, np.arange(4000), config)
    stored = dict(enumerate(vectors))
    queries = vectors[:20] + 0.05 * rng.normal(size=(20, 32)).astype(np.float32)
    exact_ids = np.argsort(-(queries @ vectors.T), axis=1)[:, :5]
    approximate, _ = index.search(queries, 5)
    fetched: list[list[int]] = []

    def exact_vectors(wanted: list[int]) -> dict[int, np.ndarray]:
        fetched.append(wanted)
        return {i: stored[i] for i in wanted if i != 3}  # reference 3 was removed meanwhile

    reranked, similarities = index.search(queries, 5, exact_vectors)
    assert len(fetched) == 1 and len(fetched[0]) <= 20 * 50  # one batched fetch
    expected = [[i for i in row if i != 3] for row in exact_ids]
    hits = np.mean([len(set(r) & set(e)) / len(e) for r, e in zip(reranked, expected, strict=True)])
    approximate_hits = np.mean(
        [len(set(a) & set(e)) / len(e) for a, e in zip(approximate, exact_ids, strict=True)]
    )
    assert hits > 0.95 and hits > approximate_hits
    assert 3 not in reranked
    assert np.all(np.diff(similarities, axis=1)[reranked[:, 1:] >= 0] <= 1e-6)  # best first


def test_an_inverted_file_asks_for_retraining_once_it_outgrows_its_lists():
    """An index that became IVF early must not keep its first nlist forever (issue 15)."""
    rng = np.random.default_rng(3)

    def unit(count: int) -> np.ndarray:
        vectors = rng.standard_normal((count, 32)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    config = FloatIndexConfig(dim=32, kind="ivfsq", pca_dim=None)
    index = ClipIndex.build(unit(2_000), np.arange(2_000), config)
    assert index.trained_nlist() == 32 and not index.needs_rebuild()
    index.add(unit(100), np.arange(2_000, 2_100))
    assert not index.needs_rebuild()  # a few more entries: its lists still fit
    index.add(unit(29_900), np.arange(2_100, 32_000))
    assert index.needs_rebuild()
    rebuilt = ClipIndex.build(unit(32_000), np.arange(32_000), config)
    assert rebuilt.trained_nlist() > 32 and not rebuilt.needs_rebuild()
