import json
import threading

import numpy as np
import pytest

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


def test_flat_below_threshold_ivf_above():
    small = PdqIndex.build(HASHES[:100], IDS[:100], BinaryIndexConfig(flat_max_size=100))
    large = PdqIndex.build(HASHES, IDS, BinaryIndexConfig(flat_max_size=100))
    assert (small.kind, large.kind) == ("flat", "ivf")
    vectors = _unit(3000, 16)
    config = FloatIndexConfig(dim=16, flat_max_size=1000, pq_m=4, use_opq=False)
    assert ClipIndex.build(vectors[:1000], IDS[:1000], config).kind == "flat"
    assert ClipIndex.build(vectors, IDS, config).kind == "ivfpq"


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_pdq_add_search_remove(kind):
    index = PdqIndex.build(HASHES[:2000], IDS[:2000], BinaryIndexConfig(kind=kind, nprobe=64))
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
