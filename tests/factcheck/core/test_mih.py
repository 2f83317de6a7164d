import numpy as np
import pytest

from factcheck.core.index import BinaryIndexConfig, PdqIndex
from factcheck.core.index_store import load_index, save_index
from factcheck.core.mih import MultiIndexHash, flip_masks, mask_count, substring_keys

RNG = np.random.default_rng(11)
CODES = RNG.integers(0, 256, (5000, 32), dtype=np.uint8)
IDS = np.arange(5000, dtype=np.int64) * 7 + 3


def with_flips(codes: np.ndarray, counts: list[int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(codes, axis=1)
    for row, count in zip(bits, counts, strict=True):
        row[rng.choice(256, size=count, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def brute_force(queries: np.ndarray, radius: int) -> list[dict[int, int]]:
    distances = np.unpackbits(queries[:, None, :] ^ CODES[None, :, :], axis=2).sum(axis=2)
    return [{int(IDS[i]): int(row[i]) for i in np.flatnonzero(row <= radius)} for row in distances]


def test_masks_and_keys():
    assert flip_masks(4, 1).tolist() == [0, 1, 2, 4, 8]
    assert len(flip_masks(16, 2)) == mask_count(16, 2) == 1 + 16 + 120
    assert len(flip_masks(20, 3)) == mask_count(20, 3)
    codes = np.zeros((1, 32), np.uint8)
    codes[0, 0], codes[0, 31] = 0b1000_0000, 1
    assert substring_keys(codes, 16)[0, 0] == 1 << 15 and substring_keys(codes, 16)[0, 15] == 1
    # 12-bit substrings: 21 tables, the last 4 bits are not in any table.
    assert substring_keys(codes, 12).shape == (1, 21) and substring_keys(codes, 12)[0, 0] == 2048


@pytest.mark.parametrize(("bits", "flips"), [(16, 2), (12, 1), (8, 0)])
def test_finds_exactly_the_neighbours_within_the_radius(bits, flips):
    index = MultiIndexHash(CODES, IDS, bits=bits, flips=flips)
    radius = index.radius
    assert radius == (256 // bits) * (flips + 1) - 1
    # Planted neighbours at, and just past, the guaranteed radius.
    counts = [0, 1, radius // 2, radius, radius + 1, radius + 30] * 5
    queries = with_flips(CODES[: len(counts)], counts)
    ids, distances = index.search(queries, k=4)
    for query, expected in enumerate(brute_force(queries, radius)):
        got = {int(i): int(d) for i, d in zip(ids[query], distances[query], strict=True) if i >= 0}
        nearest = dict(sorted(expected.items(), key=lambda item: (item[1], item[0]))[:4])
        assert got == nearest, (query, counts[query])
        assert list(distances[query]) == sorted(distances[query])
    assert (distances[ids == -1] == 257).all()


def test_each_reference_once_even_when_found_through_every_table():
    index = MultiIndexHash(np.concatenate([CODES[:3], CODES[:1]]), np.array([1, 2, 3, 9]))
    ids, distances = index.search(CODES[:1], k=5)
    assert ids[0].tolist() == [1, 9, -1, -1, -1] and distances[0, :2].tolist() == [0, 0]


def test_pdq_index_mih_add_remove_and_persist(tmp_path):
    config = BinaryIndexConfig(flat_max_size=1000, mih_bits=16, mih_flips=2)
    index = PdqIndex.build(CODES[:4000], IDS[:4000], config)
    assert index.kind == "mih"
    index.search(CODES[:1], 1)  # builds the search tables
    index.add(CODES[4000:], IDS[4000:])  # ... which an add must invalidate
    assert index.search(CODES[4999:], 1)[0][0, 0] == IDS[4999]
    assert index.remove(IDS[:2]) == 2
    assert index.search(CODES[:1], 1)[0][0, 0] == -1
    save_index(tmp_path, "pdq", index)
    loaded, manifest = load_index(tmp_path, "pdq")
    assert loaded.kind == "mih" and manifest.count == 4998 and manifest.params["mih_flips"] == 2
    queries = with_flips(CODES[10:20], [20] * 10)
    assert np.array_equal(loaded.search(queries, 3)[0], index.search(queries, 3)[0])
    assert loaded.search(queries, 1)[0][:, 0].tolist() == IDS[10:20].tolist()


def test_fewer_flips_search_exactly_the_smaller_radius():
    index = MultiIndexHash(CODES, IDS, bits=16, flips=2)
    assert (index.radius, index.radius_for(1), index.radius_for(0)) == (47, 31, 15)
    queries = with_flips(CODES[:60], [10, 20, 30, 40] * 15, seed=4)
    for flips in (0, 1):
        ids, distances = index.search(queries, k=5, flips=flips)
        truth = brute_force(queries, index.radius_for(flips))
        for row, expected in enumerate(truth):
            got = {int(i): int(d) for i, d in zip(ids[row], distances[row], strict=True) if i >= 0}
            assert got == dict(sorted(expected.items(), key=lambda kv: kv[1])[:5])
    with pytest.raises(ValueError, match="flips must be between 0 and 2"):
        index.search(queries, k=1, flips=3)


def test_rotated_query_hashes_search_a_smaller_radius(monkeypatch):
    config = BinaryIndexConfig(flat_max_size=1000, mih_bits=16, mih_flips=2, mih_dihedral_flips=1)
    index = PdqIndex.build(CODES, IDS, config)
    assert (index.radius, index.dihedral_radius) == (47, 31)
    # Row 0 as posted and row 1 rotated, both 40 bits from their originals; row 2 25 bits away.
    queries = with_flips(CODES[:3], [40, 40, 25], seed=5)
    ids, distances = index.search(queries, k=1, primary=1)
    assert ids[:, 0].tolist() == [IDS[0], -1, IDS[2]]
    assert distances[:, 0].tolist() == [40, 257, 25]
    assert index.search(queries, k=1)[0][:, 0].tolist() == IDS[:3].tolist()  # all at full radius


def test_substring_width_follows_the_index_size(monkeypatch):
    from factcheck.core import index as index_module

    index = PdqIndex.build(CODES, IDS, BinaryIndexConfig(flat_max_size=1000))
    assert (index.mih_bits, index.radius, index.dihedral_radius) == (20, 47, 35)
    monkeypatch.setattr(index_module, "MIH_WIDE_FROM", 1000)
    assert (index.mih_bits, index.radius, index.dihedral_radius) == (24, 39, 29)
    pinned = PdqIndex.build(CODES, IDS, BinaryIndexConfig(flat_max_size=1000, mih_bits=16))
    assert pinned.mih_bits == 16
