"""A base built off the writer's lock: staged files, one version with its delta, and the ids
changed since a snapshot."""

import numpy as np

from factcheck.core.index import PdqIndex
from factcheck.core.index_compaction import (
    STAGED_INFIX,
    changed_since,
    publish_staged,
    snapshot,
    stage_index,
    staged_discard,
)
from factcheck.core.index_store import (
    IndexStore,
    live_ids,
    load_base,
    load_index,
    plan_delta,
    read_manifest,
    save_delta,
    save_index,
)
from factcheck.core.layered import LayeredPdqIndex

HASHES = np.random.default_rng(3).integers(0, 256, (40, 32), dtype=np.uint8)


def publish(directory, *, removed: list[int], added: list[int]) -> None:
    """A delta as index_update publishes one: ids removed, then rows added (by id)."""
    base, _ = load_base(directory, "pdq")
    assert isinstance(base, PdqIndex)
    delta = base.empty_like()
    if added:
        delta.add(HASHES[added], added)
    save_delta(directory, "pdq", plan_delta(directory, "pdq", removed_ids=removed, added=delta))


def staged_files(directory) -> list[str]:
    return [path.name for path in directory.iterdir() if STAGED_INFIX in path.name]


def current(reader: IndexStore) -> PdqIndex | LayeredPdqIndex:
    """What `reader` serves now: a published PDQ index, alone or with its deltas."""
    index = reader.get()
    assert isinstance(index, PdqIndex | LayeredPdqIndex)
    return index


def test_changed_since_names_every_id_added_or_hidden_after_the_snapshot(tmp_path) -> None:
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:10], np.arange(10)))
    publish(tmp_path, removed=[1, 10], added=[10])
    publish(tmp_path, removed=[5], added=[5])  # changed in place: hidden in the base, re-added
    start = snapshot(tmp_path, "pdq")
    changed = changed_since(tmp_path, "pdq", start)
    assert changed is not None and changed.tolist() == []
    publish(tmp_path, removed=[1, 2], added=[1])  # 1 added back, 2 removed
    publish(tmp_path, removed=[1, 5, 10, 999], added=[])  # 1 and 5 again; 999 hides nothing
    publish(tmp_path, removed=[11], added=[11])
    changed = changed_since(tmp_path, "pdq", start)
    assert changed is not None and changed.tolist() == [1, 2, 5, 10, 11]
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:5], np.arange(5)))  # a rebuild
    assert changed_since(tmp_path, "pdq", start) is None


def test_a_staged_base_is_published_with_its_delta_as_one_version(tmp_path) -> None:
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:10], np.arange(10)))
    reader = IndexStore(tmp_path, "pdq")
    assert len(current(reader)) == 10
    new_base = PdqIndex.build(HASHES[:20], np.arange(20))
    staged = stage_index(tmp_path, "pdq", new_base)
    assert len(staged_files(tmp_path)) == 2  # index and ids, named by no version
    before = read_manifest(tmp_path, "pdq")
    assert len(current(reader)) == 10 and before is not None and before.version == 1
    delta = new_base.empty_like()
    delta.add(HASHES[[3, 30]], [3, 30])
    manifest = publish_staged(tmp_path, "pdq", staged, removed_ids=[3, 4, 99], added=delta)
    assert (manifest.version, manifest.file, len(manifest.deltas)) == (2, "pdq.v2.faiss", 1)
    assert (manifest.base_rows, manifest.hidden_rows, manifest.count) == (20, 2, 20)
    assert staged_files(tmp_path) == []
    expected = sorted({*range(20), 30} - {4})
    assert live_ids(tmp_path, "pdq").tolist() == expected
    loaded, _ = load_index(tmp_path, "pdq")  # checksums of the renamed files verified
    assert isinstance(loaded, LayeredPdqIndex)
    assert loaded.search(HASHES[[30]], 1)[0][0, 0] == 30
    assert current(reader).search(HASHES[[4]], 1)[0][0, 0] != 4 and reader.version == 2


def test_staged_discard_deletes_what_no_version_names(tmp_path) -> None:
    save_index(tmp_path, "pdq", PdqIndex.build(HASHES[:10], np.arange(10)))
    stage_index(tmp_path, "pdq", PdqIndex.build(HASHES[:20], np.arange(20)))
    stage_index(tmp_path, "embedding-like", PdqIndex.build(HASHES[:5], np.arange(5)))
    staged_discard(tmp_path, "pdq")
    assert [name for name in staged_files(tmp_path) if ".pdq." in name] == []
    assert len(staged_files(tmp_path)) == 2  # another index's are not this one's to delete
    assert live_ids(tmp_path, "pdq").tolist() == list(range(10))
