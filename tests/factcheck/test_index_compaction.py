"""Compaction off the writer's lock: an update past the delta limits publishes its delta and
enqueues a compaction, which builds the new base while later updates keep publishing theirs."""

import fcntl
import io

import pytest
from django.db import transaction
from PIL import Image

from factcheck import indexing, services
from factcheck.core import index_store
from factcheck.core.index_manifest import Manifest
from factcheck.core.index_store import read_manifest
from factcheck.evaluation.evalsources import generated_image
from factcheck.indexing import (
    EMBEDDING_INDEX,
    LOCAL_INDEX,
    LOCK_FILE,
    PDQ_INDEX,
    index_compact,
    index_dir,
    index_rebuild,
    index_update,
    indexed_reference_ids,
)
from factcheck.models import Fingerprint, PendingIndexRemoval, Reference
from factcheck.selectors import image_matches
from factcheck.tasks import compact_index

pytestmark = pytest.mark.django_db(transaction=True)

INDEXES = (PDQ_INDEX, EMBEDDING_INDEX, LOCAL_INDEX)
SIZE = (240, 320)


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(generated_image(seed=seed, size=SIZE)).save(buffer, format="PNG")
    return buffer.getvalue()


def add(seed: int) -> Reference:
    return services.reference_add(content=png(seed), source="AP").reference


def add_unpublished(seed: int, monkeypatch) -> Reference:
    """Committed, but its index update lost: it waits in the outbox (indexed=False)."""
    with monkeypatch.context() as lost:
        lost.setattr(services, "_enqueue_index_update", lambda **ids: None)
        return add(seed)


def published(name: str) -> Manifest:
    """The manifest of index `name`, which must have been published."""
    manifest = read_manifest(index_dir(), name)
    assert manifest is not None, name
    return manifest


def top_match(seed: int) -> str | None:
    found = image_matches(image=generated_image(seed=seed, size=SIZE)).matches
    return found[0]["reference"]["id"] if found else None


def writer_lock_free() -> bool:
    """Whether another writer could take the lock now (a new open file: flock conflicts with
    every other open of the file, this process's included)."""
    with (index_dir() / LOCK_FILE).open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(lock, fcntl.LOCK_UN)
        return True


@pytest.fixture
def enqueued(monkeypatch) -> list[str]:
    """Compactions enqueued but not run, as a broker would hold them."""
    names: list[str] = []
    monkeypatch.setattr(compact_index, "delay", names.append)
    return names


@pytest.fixture
def due_at_two_deltas(monkeypatch) -> None:
    """Compaction due from the second delta file on, whatever the (tiny) base's size."""
    monkeypatch.setattr(index_store, "DELTA_MAX_FRACTION", 100.0)
    monkeypatch.setattr(index_store, "DELTA_MAX_FILES", 1)


@pytest.fixture
def during_build(monkeypatch):
    """Runs a callable of the test each time a compaction builds a base, before it builds."""
    hooks = []
    built = indexing._built

    def building(name, rows):
        for hook in hooks:
            hook(name)
        return built(name, rows)

    monkeypatch.setattr(indexing, "_built", building)
    return hooks.append


def test_an_update_past_the_limits_publishes_its_delta_and_enqueues_a_compaction(
    due_at_two_deltas, enqueued, monkeypatch
) -> None:
    add(1)
    add(2)  # one delta: not due
    assert enqueued == []
    before = {name: published(name) for name in INDEXES}
    third = add_unpublished(3, monkeypatch)
    with transaction.atomic():
        index_update()  # a second delta file: past DELTA_MAX_FILES
        assert enqueued == []  # enqueued once the caller's transaction commits
    assert sorted(enqueued) == sorted(INDEXES)
    for name, base in before.items():
        manifest = published(name)
        assert manifest.version == base.version + 1, name  # the delta, no rebuild
        assert (manifest.file, len(manifest.deltas)) == (base.file, 2), name
        assert third.pk in indexed_reference_ids(name), name  # searchable already
    for name in enqueued:
        compact_index(name)  # what the worker runs
    for name, base in before.items():
        manifest = published(name)
        assert manifest.file != base.file and manifest.deltas == (), name
        assert indexed_reference_ids(name) == set(Reference.objects.values_list("pk", flat=True))
    assert published(PDQ_INDEX).count == 3


@pytest.mark.parametrize("name", INDEXES)
def test_updates_published_while_a_compaction_builds_are_kept(
    name, due_at_two_deltas, enqueued, during_build, monkeypatch
) -> None:
    removed, kept, third = add(1), add(2), add(3)  # due
    # In the outbox when the compaction reads the database, deleted before any update
    # published it: its removal hides nothing, so no published version names it.
    ghost = add_unpublished(4, monkeypatch)
    late: list[Reference] = []

    def interleave(building: str) -> None:
        if late:
            return
        services.reference_remove(reference=ghost)
        services.reference_remove(reference=removed)
        late.append(add(5))  # published in a delta on the old base
        late.append(add_unpublished(6, monkeypatch))  # committed, left in the outbox

    during_build(interleave)
    base = published(name)
    assert index_compact(name=name) is not None
    added, waiting = late
    compacted = published(name)
    assert compacted.file != base.file and len(compacted.deltas) <= 1
    assert compacted.version == base.version + 3  # two interleaved versions, then its own
    assert indexed_reference_ids(name) == {kept.pk, third.pk, added.pk}
    assert top_match(5) == str(added.pk)
    assert top_match(1) is None and top_match(4) is None
    assert Fingerprint.objects.filter(indexed=False).get().reference_id == waiting.pk
    index_update()  # the outbox: what the next update would apply
    assert indexed_reference_ids(name) == {kept.pk, third.pk, added.pk, waiting.pk}
    assert not Fingerprint.objects.filter(indexed=False).exists()
    assert not PendingIndexRemoval.objects.exists()
    live_rows = published(name).count
    index_rebuild()
    assert published(name).count == live_rows  # no row twice


def test_the_writer_lock_is_free_while_a_compaction_builds_and_writes_its_base(
    due_at_two_deltas, enqueued, during_build, monkeypatch
) -> None:
    for seed in (1, 2, 3):
        add(seed)
    free: list[bool] = []
    concurrent: list[object] = []

    def compact_again(name: str) -> None:
        if not concurrent:
            concurrent.append("started")  # once, even if it recursed into this build
            concurrent[0] = index_compact(name=name)

    during_build(lambda name: free.append(writer_lock_free()))
    during_build(compact_again)
    staged = indexing.stage_index

    def staging(*args, **kwargs):
        free.append(writer_lock_free())
        return staged(*args, **kwargs)

    monkeypatch.setattr(indexing, "stage_index", staging)
    assert index_compact(name=PDQ_INDEX) is not None
    assert free == [True, True]
    assert concurrent == [None]  # a second compaction of the same index backs off at once


def test_a_compaction_is_idempotent(due_at_two_deltas, enqueued) -> None:
    add(1)
    assert index_compact(name=PDQ_INDEX) is None  # a base alone: nothing due
    add(2)
    add(3)
    assert index_compact(name=PDQ_INDEX) is not None
    compacted = published(PDQ_INDEX)
    files = sorted(path.name for path in index_dir().iterdir())
    assert index_compact(name=PDQ_INDEX) is None
    compact_index(PDQ_INDEX)  # a retried task
    assert published(PDQ_INDEX) == compacted
    assert sorted(path.name for path in index_dir().iterdir()) == files
    assert not [path for path in index_dir().iterdir() if ".staged-" in path.name]
