"""A published index = base + appended deltas + removed ids, searched as one (issue 15).

Each kind is checked the same way: rows are published as a base, then two deltas that remove
ids (from the base and from the first delta, one removed and added again, one changed within a
step as `index_update` does) and add new rows; the loaded result must give the same ids and
distances as one index holding exactly the live rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import pytest

from factcheck.core.features import Features
from factcheck.core.index import (
    MISSING_ID,
    BinaryIndexConfig,
    ClipIndex,
    FloatIndexConfig,
    PdqIndex,
    ReadOnlyIndexError,
)
from factcheck.core.index_manifest import Manifest
from factcheck.core.index_store import (
    DELTA_MAX_FILES,
    DELTA_MAX_FRACTION,
    IndexCorruptError,
    IndexStore,
    SearchableIndex,
    compaction_due,
    live_ids,
    load_index,
    plan_delta,
    read_manifest,
    save_delta,
    save_index,
)
from factcheck.core.layered import LayeredClipIndex, LayeredLocalIndex, LayeredPdqIndex
from factcheck.core.local_index import LocalIndex, LocalIndexConfig

RNG = np.random.default_rng(15)
HASHES = RNG.integers(0, 256, (3000, 32), dtype=np.uint8)
IDS = np.arange(3000, dtype=np.int64) * 10 + 5

RowT = TypeVar("RowT")  # a row of an index: a hash, a vector or a picture's features
IndexT = TypeVar("IndexT", PdqIndex, ClipIndex, LocalIndex)


@dataclass
class Steps(Generic[RowT]):
    """Rows of the base, then per delta (removed ids, added rows); `live` is the end state."""

    base: dict[int, RowT]
    deltas: list[tuple[list[int], dict[int, RowT]]] = field(default_factory=list)

    @property
    def live(self) -> dict[int, RowT]:
        rows = dict(self.base)
        for removed, added in self.deltas:
            for ref_id in removed:
                rows.pop(ref_id, None)
            rows.update(added)
        return dict(sorted(rows.items()))


def steps_of(rows: np.ndarray, changed: np.ndarray) -> Steps[np.ndarray]:
    """Base = rows 0..1999; delta 1 removes three base rows and adds rows 2000..2499; delta 2
    removes a base row and two rows of delta 1, adds back a removed id and changes another (both
    with new values, `changed`), and adds rows 2500..2999."""
    steps = Steps(base={int(IDS[i]): rows[i] for i in range(2000)})
    steps.deltas.append(
        ([int(IDS[i]) for i in (3, 50, 999)], {int(IDS[i]): rows[i] for i in range(2000, 2500)})
    )
    added = {int(IDS[i]): rows[i] for i in range(2500, 3000)}
    added[int(IDS[50])] = changed[0]  # removed in delta 1, added again
    added[int(IDS[8])] = changed[1]  # removed and added in one step, like index_update
    removed = [int(IDS[i]) for i in (7, 8, 2001, 2100)]
    steps.deltas.append((removed, added))
    return steps


def publish(
    directory: Path,
    name: str,
    base: IndexT,
    steps: Steps[RowT],
    add: Callable[[IndexT, dict[int, RowT]], None],
) -> tuple[SearchableIndex, Manifest]:
    """Publish `base` then each delta of `steps` (rows added with `add(index, rows)` to an empty
    copy of the base's structure); returns what a reader loads."""
    save_index(directory, name, base)
    for removed, added in steps.deltas:
        delta = base.empty_like()
        add(delta, added)
        save_delta(directory, name, plan_delta(directory, name, removed_ids=removed, added=delta))
    return load_index(directory, name)


def pdq_loaded(loaded: SearchableIndex) -> PdqIndex | LayeredPdqIndex:
    """A loaded PDQ index: its base alone, or with deltas or hidden rows."""
    assert isinstance(loaded, PdqIndex | LayeredPdqIndex)
    return loaded


def local_loaded(loaded: SearchableIndex) -> LocalIndex | LayeredLocalIndex:
    """A loaded local-feature index: its base alone, or with deltas or hidden rows."""
    assert isinstance(loaded, LocalIndex | LayeredLocalIndex)
    return loaded


def assert_same_neighbours(got, expected) -> None:
    """Same scores everywhere and the same ids, except which of several rows tied at a row's
    last score made the cut (single indexes break such ties by insertion order)."""
    (got_ids, got_scores), (expected_ids, expected_scores) = got, expected
    assert got_ids.shape == expected_ids.shape
    np.testing.assert_allclose(got_scores, expected_scores, rtol=0, atol=1e-5)
    assert np.array_equal(got_ids == MISSING_ID, expected_ids == MISSING_ID)
    for row in range(len(got_ids)):
        boundary = expected_scores[row, -1]

        def pairs(ids, scores, boundary=boundary):
            return {
                (round(float(score), 4), int(ref_id))
                for ref_id, score in zip(ids, scores, strict=True)
                if not np.isclose(score, boundary, atol=1e-5, rtol=0)
            }

        assert pairs(got_ids[row], got_scores[row]) == pairs(
            expected_ids[row], expected_scores[row]
        ), row


def with_flips(codes: np.ndarray, counts: list[int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(codes, axis=1)
    for row, count in zip(bits, counts, strict=True):
        row[rng.choice(256, size=count, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def add_hashes(index: PdqIndex, rows: dict[int, np.ndarray]) -> None:
    index.add(np.stack(list(rows.values())), list(rows))


def pdq_queries(steps: Steps[np.ndarray]) -> np.ndarray:
    """Near copies of live rows, of removed rows and of the changed rows, at growing distances."""
    picks = [
        steps.live[int(IDS[0])],
        steps.base[int(IDS[3])],  # removed
        steps.base[int(IDS[50])],  # old value of a re-added id
        steps.live[int(IDS[50])],
        steps.live[int(IDS[8])],
        steps.live[int(IDS[2200])],
        steps.live[int(IDS[2700])],
        HASHES[2001],  # removed from delta 1
    ]
    codes = np.stack(picks * 2)
    return with_flips(codes, [0, 10, 20, 30, 0, 40, 46, 5, 12, 25, 31, 33, 0, 36, 47, 50])


@pytest.mark.parametrize(
    "config",
    [
        BinaryIndexConfig(kind="flat"),
        BinaryIndexConfig(flat_max_size=1000, mih_bits=16, mih_flips=2, mih_dihedral_flips=1),
        BinaryIndexConfig(kind="ivf", nlist=16, nprobe=4),
    ],
    ids=["flat", "mih", "ivf"],
)
def test_pdq_base_and_deltas_search_like_one_index(tmp_path, config) -> None:
    steps = steps_of(HASHES, RNG.integers(0, 256, (2, 32), dtype=np.uint8))
    base = PdqIndex.build(np.stack(list(steps.base.values())), np.array(list(steps.base)), config)
    loaded, manifest = publish(tmp_path, "pdq", base, steps, add_hashes)
    live = steps.live
    if base.kind == "ivf":  # one index = the base's trained structure holding the live rows
        single = base.empty_like()
        add_hashes(single, live)
    else:
        single = PdqIndex.build(np.stack(list(live.values())), np.array(list(live)), config)
    assert isinstance(loaded, LayeredPdqIndex) and len(loaded.layers) == 3
    assert (loaded.kind, loaded.radius, loaded.dihedral_radius) == (
        single.kind,
        single.radius,
        single.dihedral_radius,
    )
    assert len(loaded) == manifest.count == len(live)
    queries = pdq_queries(steps)
    for k in (1, 5):
        assert_same_neighbours(loaded.search(queries, k), single.search(queries, k))
        assert_same_neighbours(
            loaded.search(queries, k, primary=8), single.search(queries, k, primary=8)
        )
    ids, _ = loaded.search(queries, 5)
    assert int(IDS[3]) not in ids and int(IDS[2001]) not in ids
    assert ids[3, 0] == IDS[50] and ids[4, 0] == IDS[8]  # the re-added and changed rows
    assert set(live_ids(tmp_path, "pdq").tolist()) == set(live)


def unit(count: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, 8)) @ rng.normal(size=(8, dim))  # near a subspace (PCA)
    vectors += 0.3 * rng.normal(size=(count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def add_vectors(index: ClipIndex, rows: dict[int, np.ndarray]) -> None:
    index.add(np.stack(list(rows.values())), list(rows))


@pytest.mark.parametrize(
    "config",
    [
        FloatIndexConfig(dim=32),
        FloatIndexConfig(dim=32, kind="ivfsq", pca_dim=16, nprobe=4, rerank_factor=3),
    ],
    ids=["flat", "ivfsq"],
)
def test_embedding_base_and_deltas_search_like_one_index(tmp_path, config) -> None:
    vectors = unit(3000, 32, seed=1)
    steps = steps_of(vectors, unit(2, 32, seed=2))
    base = ClipIndex.build(np.stack(list(steps.base.values())), np.array(list(steps.base)), config)
    loaded, manifest = publish(tmp_path, "clip", base, steps, add_vectors)
    live = steps.live
    single = base.empty_like()
    add_vectors(single, live)
    assert isinstance(loaded, LayeredClipIndex) and loaded.config.dim == 32
    assert len(loaded) == manifest.count == len(live)
    picks = [int(IDS[i]) for i in (0, 3, 50, 8, 2001, 2200, 2700, 1500)]
    old = {**steps.base, **steps.deltas[0][1]}
    queries = np.stack([live[i] if i in live else old[i] for i in picks])
    queries = queries + 0.05 * np.random.default_rng(3).normal(size=queries.shape)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)

    def exact_vectors(wanted: list[int]) -> dict[int, np.ndarray]:
        return {i: live[i] for i in wanted if i in live}

    for k in (1, 10):
        assert_same_neighbours(loaded.search(queries, k), single.search(queries, k))
        assert_same_neighbours(
            loaded.search(queries, k, exact_vectors), single.search(queries, k, exact_vectors)
        )
    ids, _ = loaded.search(queries, 10, exact_vectors)
    assert int(IDS[3]) not in ids and int(IDS[2001]) not in ids


class GeneratedFeatures(Mapping[int, Features]):
    """Random RootSIFT-like features per reference id (a `version` gives a changed picture)."""

    def __init__(self, ref_ids: list[int], version: int = 0) -> None:
        self.ref_ids, self.version = ref_ids, version

    def __getitem__(self, ref_id: int) -> Features:
        rng = np.random.default_rng([ref_id, self.version])
        descriptors = rng.random((60, 128), dtype=np.float32) ** 4
        descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
        return Features(
            points=rng.uniform(0, 400, (60, 2)).astype(np.float32),
            descriptors=descriptors,
            image_size=(400, 400),
        )

    def __iter__(self) -> Iterator[int]:
        return iter(self.ref_ids)

    def __len__(self) -> int:
        return len(self.ref_ids)


def noisy(features: Features, seed: int) -> Features:
    rng = np.random.default_rng(seed)
    descriptors = features.descriptors + 0.01 * rng.random(features.descriptors.shape)
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    return Features(features.points, descriptors.astype(np.float32), features.image_size)


def add_features(index: LocalIndex, rows: dict[int, Features]) -> None:
    for ref_id, features in rows.items():
        index.add(ref_id, features)


@pytest.mark.parametrize(
    "config",
    [
        LocalIndexConfig(kind="flat", per_reference=30, min_votes=3),
        LocalIndexConfig(kind="ivf", per_reference=30, min_votes=3, nlist=16, nprobe=4),
    ],
    ids=["flat", "ivf"],
)
def test_local_base_and_deltas_vote_like_one_index(tmp_path, config) -> None:
    original, changed = GeneratedFeatures(list(range(100))), GeneratedFeatures([], version=1)
    steps = Steps(base={i: original[i] for i in range(60)})
    steps.deltas.append(([3, 50, 59], {i: original[i] for i in range(60, 80)}))
    added = {i: original[i] for i in range(80, 100)} | {50: changed[50], 8: changed[8]}
    steps.deltas.append(([7, 8, 61, 70], added))
    base = LocalIndex.build(steps.base, config)
    loaded, manifest = publish(tmp_path, "local", base, steps, add_features)
    live = steps.live
    single = base.empty_like()
    add_features(single, live)
    assert isinstance(loaded, LayeredLocalIndex)
    assert len(loaded) == manifest.count == len(single) == 30 * len(live)
    queries = {
        "live": noisy(live[0], 1),
        "removed": noisy(original[3], 2),
        "removed from a delta": noisy(original[61], 3),
        "re-added": noisy(live[50], 4),
        "changed": noisy(live[8], 5),
        "old value of changed": noisy(original[8], 6),
        "in delta 2": noisy(live[90], 7),
    }
    for name, query in queries.items():
        got_ids, got_distances = loaded.neighbours(query)
        expected_ids, expected_distances = single.neighbours(query)
        np.testing.assert_allclose(got_distances, expected_distances, rtol=1e-6, err_msg=name)
        assert np.array_equal(got_ids, expected_ids), name
        assert loaded.search_votes(query) == single.search_votes(query), name
    assert next(iter(loaded.search_votes(queries["re-added"]))) == 50
    assert 3 not in loaded.search_votes(queries["removed"])
    assert 61 not in loaded.search_votes(queries["removed from a delta"])
    assert set(live_ids(tmp_path, "local").tolist()) == set(live)


def test_reader_sees_a_delta_without_reloading_the_base(tmp_path) -> None:
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:100], IDS[:100]))
    store = IndexStore(tmp_path, "pdq")
    base = store.get()
    assert isinstance(base, PdqIndex) and store.version == 1  # base only: the plain index
    delta = base.empty_like()
    delta.add(HASHES[100:101], IDS[100:101])
    save_delta(tmp_path, "pdq", plan_delta(tmp_path, "pdq", removed_ids=[IDS[5]], added=delta))
    layered = store.get()
    assert isinstance(layered, LayeredPdqIndex) and store.version == 2
    assert layered.layers[0] is base  # the base stays mapped; only the delta was read
    ids, distances = layered.search(HASHES[[100, 5]], 1)
    assert (ids[0, 0], distances[0, 0]) == (IDS[100], 0) and ids[1, 0] != IDS[5]


def test_only_removing_writes_no_delta_file(tmp_path) -> None:
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:100], IDS[:100]))
    plan = plan_delta(tmp_path, "pdq", removed_ids=[IDS[5], 999_999], added=None)
    assert (plan.removed_rows, plan.count) == (1, 99)  # an unknown id hides nothing
    manifest = save_delta(tmp_path, "pdq", plan)
    assert manifest.deltas == () and manifest.hidden_rows == 1 and manifest.count == 99
    loaded = pdq_loaded(load_index(tmp_path, "pdq")[0])
    assert loaded.search(HASHES[5:6], 1)[0][0, 0] != IDS[5]


def test_a_published_base_is_memory_mapped_and_refuses_changes(tmp_path) -> None:
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:100], IDS[:100]))
    loaded, _ = load_index(tmp_path, "pdq")
    assert isinstance(loaded, PdqIndex)  # a base alone: the plain index
    assert loaded.read_only
    with pytest.raises(ReadOnlyIndexError):
        loaded.add(HASHES[100:101], IDS[100:101])
    with pytest.raises(ReadOnlyIndexError):
        loaded.remove(IDS[:1])
    copy, _ = load_index(tmp_path, "pdq", mmap=False)
    assert isinstance(copy, PdqIndex)
    copy.remove(IDS[:1])  # a private copy can still change
    assert len(copy) == 99


def test_old_and_superseded_files_are_pruned_but_named_ones_kept(tmp_path) -> None:
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:100], IDS[:100]))
    for step in range(6):
        delta = PdqIndex.build(HASHES[100 + step : 101 + step], IDS[100 + step : 101 + step])
        plan = plan_delta(tmp_path, "pdq", removed_ids=[IDS[step]], added=delta)
        save_delta(tmp_path, "pdq", plan)
    manifest = read_manifest(tmp_path, "pdq")
    assert manifest is not None
    assert manifest.version == 7 and len(manifest.deltas) == 6 and manifest.count == 100
    on_disk = {path.name for path in tmp_path.iterdir() if path.name.startswith("pdq.v")}
    named = set(manifest.files())
    assert named <= on_disk
    assert on_disk - named == {"pdq.v6.removed.npy"}  # the previous version's, kept briefly
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:50], IDS[:50]))  # a compaction
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:60], IDS[:60]))
    on_disk = {path.name for path in tmp_path.iterdir() if path.name.startswith("pdq.v")}
    assert on_disk == {f"pdq.v{v}.{kind}" for v in (8, 9) for kind in ("faiss", "ids.npy")}


def test_a_format_1_manifest_reads_as_a_base_without_deltas(tmp_path) -> None:
    manifest = save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:10], IDS[:10]))
    old = {
        key: getattr(manifest, key)
        for key in ("kind", "version", "count", "sha256", "file", "params", "created_at")
    }
    (tmp_path / "pdq.manifest.json").write_text(json.dumps({**old, "format": 1}))
    (tmp_path / manifest.ids_file).unlink()  # format 1 had no ids file
    loaded, read = load_index(tmp_path, "pdq")
    assert isinstance(loaded, PdqIndex) and read.deltas == () and read.base_rows == 10
    assert set(live_ids(tmp_path, "pdq").tolist()) == set(IDS[:10].tolist())
    delta = PdqIndex.build(HASHES[10:11], IDS[10:11])
    save_delta(tmp_path, "pdq", plan_delta(tmp_path, "pdq", removed_ids=[IDS[0]], added=delta))
    assert load_index(tmp_path, "pdq")[1].count == 10


@pytest.mark.parametrize(
    ("delta_files", "changed_rows", "due"),
    [
        (DELTA_MAX_FILES, 0, False),
        (DELTA_MAX_FILES + 1, 0, True),
        (1, int(DELTA_MAX_FRACTION * 10_000), False),
        (1, int(DELTA_MAX_FRACTION * 10_000) + 1, True),
    ],
)
def test_compaction_is_due_past_the_delta_limits(delta_files, changed_rows, due) -> None:
    assert (
        compaction_due(base_rows=10_000, delta_files=delta_files, changed_rows=changed_rows) is due
    )


def test_hidden_rows_nearest_to_a_query_do_not_starve_its_answer(tmp_path) -> None:
    """Ten removed near-copies of the query are its ten nearest rows: a layer asked for k + a few
    must ask again until k live rows come back."""
    copies = with_flips(np.repeat(HASHES[:1], 10, axis=0), list(range(1, 11)))
    rows = np.concatenate([copies, HASHES[1:500]])
    ids = np.arange(len(rows), dtype=np.int64) + 1_000
    save_index(tmp_path, "pdq", PdqIndex.build(rows, ids))
    save_delta(tmp_path, "pdq", plan_delta(tmp_path, "pdq", removed_ids=ids[:10], added=None))
    loaded = pdq_loaded(load_index(tmp_path, "pdq")[0])
    single = PdqIndex.build(rows[10:], ids[10:])
    for k in (1, 3):
        assert_same_neighbours(loaded.search(HASHES[:1], k), single.search(HASHES[:1], k))
    features = GeneratedFeatures([0])[0]
    base = LocalIndex.build(
        {ref_id: features for ref_id in range(8)} | dict(GeneratedFeatures(list(range(8, 40)))),
        LocalIndexConfig(kind="flat", per_reference=30, min_votes=3),
    )
    save_index(tmp_path, "local", base)
    plan = plan_delta(tmp_path, "local", removed_ids=list(range(7)), added=None)
    save_delta(tmp_path, "local", plan)
    loaded_local = local_loaded(load_index(tmp_path, "local")[0])
    single_local = base.empty_like()
    add_features(single_local, {7: features} | dict(GeneratedFeatures(list(range(8, 40)))))
    query = noisy(features, 9)
    assert np.array_equal(loaded_local.neighbours(query)[0], single_local.neighbours(query)[0])
    assert loaded_local.search_votes(query) == single_local.search_votes(query) == {7: 30}


def test_layers_smaller_than_k_with_hidden_rows_answer_like_one_index(tmp_path) -> None:
    """A base and a delta of fewer than k rows each, one row hidden: each layer's short
    answer fills the first of its k slots (as after a compaction re-applies a few rows)."""
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:6], IDS[:6]))
    delta = PdqIndex.build(HASHES[6:9], IDS[6:9])
    save_delta(tmp_path, "pdq", plan_delta(tmp_path, "pdq", removed_ids=[IDS[2]], added=delta))
    loaded = pdq_loaded(load_index(tmp_path, "pdq")[0])
    live = [0, 1, 3, 4, 5, 6, 7, 8]
    single = PdqIndex.build(HASHES[live], IDS[live])
    (ids, distances), (expected_ids, expected) = (
        index.search(HASHES[[1, 7]], 10) for index in (loaded, single)
    )
    assert np.array_equal(ids, expected_ids) and (ids[:, len(live) :] == MISSING_ID).all()
    found = ids != MISSING_ID  # empty slots: each kind has its own filler distance
    assert np.array_equal(distances[found], expected[found])


def test_readers_map_the_multi_index_hash_tables_published_with_the_base(tmp_path) -> None:
    config = BinaryIndexConfig(flat_max_size=1000, mih_bits=16, mih_flips=2, mih_dihedral_flips=1)
    built = PdqIndex.build(HASHES, IDS, config)
    manifest = save_index(tmp_path, "pdq", built)
    assert manifest.mih_file == "pdq.v1.mih" and manifest.mih_file in manifest.files()
    loaded, _ = load_index(tmp_path, "pdq")
    assert isinstance(loaded, PdqIndex)
    tables = loaded._mih  # mapped at load, before any search
    assert tables is not None
    for array in (tables.words, tables.ids, tables.offsets, tables.postings):
        assert not array.flags.owndata and array.ctypes.data % 64 == 0  # mapped, aligned
    queries = with_flips(HASHES[:16], [0, 3, 10, 20, 30, 40, 47, 60] * 2)
    for primary in (None, 1, 8):
        assert_same_neighbours(
            loaded.search(queries, 3, primary=primary), built.search(queries, 3, primary=primary)
        )
    path = tmp_path / manifest.mih_file
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(IndexCorruptError, match=manifest.mih_file):
        load_index(tmp_path, "pdq")
