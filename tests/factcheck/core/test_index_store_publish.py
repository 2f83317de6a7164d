"""Published PDQ indexes: versions, checksums and readers that pick up new versions."""

import numpy as np
import pytest

from factcheck.core.index import PdqIndex
from factcheck.core.index_store import IndexCorruptError, IndexStore, load_index, save_index
from factcheck.core.layered import LayeredPdqIndex


def random_hashes(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32), dtype=np.uint8)


def current(reader: IndexStore) -> PdqIndex | LayeredPdqIndex:
    """What `reader` serves now: a published PDQ index, alone or with its deltas."""
    index = reader.get()
    assert isinstance(index, PdqIndex | LayeredPdqIndex)
    return index


def test_reader_picks_up_a_new_version_without_restart(tmp_path) -> None:
    hashes = random_hashes(20)
    save_index(tmp_path, "pdq", PdqIndex.build(hashes[:10], np.arange(10)))
    reader = IndexStore(tmp_path, "pdq")
    assert len(current(reader)) == 10 and reader.version == 1
    save_index(tmp_path, "pdq", PdqIndex.build(hashes, np.arange(20)))
    assert len(current(reader)) == 20 and reader.version == 2
    ids, distances = current(reader).search(hashes[15:16], 1)
    assert (ids[0, 0], distances[0, 0]) == (15, 0)


def test_remove_takes_an_id_out_of_search_results(tmp_path) -> None:
    hashes = random_hashes(5)
    index = PdqIndex.build(hashes, np.arange(100, 105))
    assert index.remove([102]) == 1
    ids, _ = index.search(hashes[2:3], 5)
    assert 102 not in ids[0]
    assert len(index) == 4


def test_corrupt_index_file_is_refused_with_its_name(tmp_path) -> None:
    manifest = save_index(tmp_path, "pdq", PdqIndex.build(random_hashes(8), np.arange(8)))
    path = tmp_path / manifest.file
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(IndexCorruptError, match=manifest.file):
        load_index(tmp_path, "pdq")
