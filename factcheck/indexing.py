"""Publishing the FAISS indexes of references: one writer at a time, readers never blocked.

Three image indexes: PDQ hashes, the global embedding (factcheck.embedding: the learned copy
descriptor, or CLIP) and local descriptors (crops, borders, captions), built from `Fingerprint`
rows (a reference video's describes its poster). Two video indexes, built from `ReferenceVideo`
rows and their files (factcheck.index_rows.video_rows): `video_frames`, each reference video's
distinct usable frame hashes (many rows per reference id), and `video_samples`, its sampled
frames' global embeddings; they propose the candidates of temporal matching
(factcheck.video_candidates). The embedding and video sample indexes' manifests name their space
(`params["space"]`, the embedding tag): each holds only rows of that space, a writer rebuilds it
when the configured space changes, and readers ignore a published version of another space
(`embedding_space`). All five share the lock, the deltas, the compaction and the outbox below.

Writers take an exclusive file lock next to the index files. An update publishes the next
version as a delta: the rows it adds (in an empty copy of the base's trained structure) and the
ids it removes, written in proportion to the change (factcheck.core.index_store). Past the delta
limits (`compaction_due`), or when the base would be built differently at the new size
(`needs_rebuild`: a flat index outgrowing its threshold, an inverted file outgrowing its lists),
it also enqueues a compaction (`index_compact`, the factcheck.compact_index task, once its
transaction commits). The compaction builds the new base from the database without the lock
(minutes at millions of references), while later updates keep publishing deltas, then takes the
lock only to publish it with one delta re-applying every id changed since it started. A writer
therefore holds the lock for a publish, never a build, except where correctness needs the whole
database at once: the first build of an index, an embedding space switch, and `rebuild_index`.
Readers use IndexStore, which picks up a new version on their next query and maps the files
shared by every process.

The local-descriptor index keeps ~55 KB per reference: above
FACTCHECK_LOCAL_INDEX_MAX_REFERENCES references it is switched off (a disabled manifest, so
readers drop it) and candidates come from the global indexes only; `rebuild_index` restores it
once the references are back under the limit.

The database is the source of truth and carries an outbox: `Fingerprint.indexed` is False until a
published version contains the reference, and `PendingIndexRemoval` rows name deleted references
that may still be in the files. Every update applies the whole outbox, not only the ids it was
given, so an add or remove interrupted between its commit and the index update (a killed process,
a lost task) is repaired by the next update or rebuild.
"""

from __future__ import annotations

import fcntl
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from factcheck.core.index import BinaryIndexConfig, ClipIndex, FloatIndexConfig, PdqIndex
from factcheck.core.index_compaction import (
    Snapshot,
    changed_since,
    publish_staged,
    snapshot,
    stage_index,
    staged_discard,
)
from factcheck.core.index_store import (
    IndexStore,
    Manifest,
    compaction_due,
    live_ids,
    load_base,
    plan_delta,
    read_manifest,
    save_delta,
    save_disabled,
    save_index,
)
from factcheck.core.local_index import LocalIndex, LocalIndexConfig
from factcheck.embedding import embedding_tag
from factcheck.index_rows import (
    MARK_BATCH,
    Rows,
    StoredFeatures,
    VideoRows,
    fingerprint_rows,
    fingerprint_rows_of,
    video_rows,
)
from factcheck.models import Fingerprint, PendingIndexRemoval

logger = logging.getLogger(__name__)
PDQ_INDEX = "pdq"
EMBEDDING_INDEX = "embedding"
LOCAL_INDEX = "local"
VIDEO_FRAMES_INDEX = "video_frames"
VIDEO_SAMPLES_INDEX = "video_samples"
VIDEO_INDEXES = (VIDEO_FRAMES_INDEX, VIDEO_SAMPLES_INDEX)  # rows from ReferenceVideo
INDEXES = (PDQ_INDEX, EMBEDDING_INDEX, LOCAL_INDEX, *VIDEO_INDEXES)
HASH_INDEXES = (PDQ_INDEX, VIDEO_FRAMES_INDEX)
SPACE_INDEXES = (EMBEDDING_INDEX, VIDEO_SAMPLES_INDEX)  # one embedding space each
LOCK_FILE = ".writer.lock"
COMPACTION_LOCK_FILE = ".compaction-{name}.lock"  # held by the one compaction of an index
SPACE_PARAM = "space"  # manifest parameter naming the embedding index's space

AnyIndex = PdqIndex | ClipIndex | LocalIndex
AnyRows = Rows | VideoRows

_stores: dict[tuple[str, str], IndexStore] = {}
_spaces: dict[tuple[str, str], tuple[int, str]] = {}  # (directory, name) -> (version, space)


@dataclass(frozen=True)
class IndexSummary:
    name: str
    version: int
    count: int


@dataclass
class IndexChange:
    summaries: list[IndexSummary] = field(default_factory=list)
    indexed_ids: list[int] = field(default_factory=list)  # newly in the published indexes


def index_dir() -> Path:
    return Path(settings.INDEX_DIR)


def pdq_config() -> BinaryIndexConfig:
    options = {"flat_max_size": settings.INDEX_FLAT_MAX_SIZE, **settings.FACTCHECK_PDQ_INDEX}
    return BinaryIndexConfig(**options)


def embedding_config(dim: int) -> FloatIndexConfig:
    return FloatIndexConfig(dim=dim, flat_max_size=settings.INDEX_FLAT_MAX_SIZE)


def local_config() -> LocalIndexConfig:
    return LocalIndexConfig(**settings.FACTCHECK_LOCAL_INDEX)


def index_reader(name: str) -> IndexStore:
    """The process-wide reader of one index (models and indexes load once per process)."""
    key = (str(index_dir()), name)
    if key not in _stores:
        faiss_threads_apply()
        _stores[key] = IndexStore(index_dir(), name)
    return _stores[key]


def embedding_space(store: IndexStore) -> str | None:
    """The space of the embedding (or video sample) index version `store` holds; None when
    nothing is loaded or a newer version was published meanwhile (known on the next query). One
    manifest read per published version."""
    version = store.version
    if version is None:
        return None
    key = (str(store.directory), store.name)
    cached = _spaces.get(key)
    if cached is None or cached[0] != version:
        manifest = read_manifest(store.directory, store.name)
        if manifest is None or manifest.version != version:
            return None
        cached = _spaces[key] = (version, _manifest_space(manifest))
    return cached[1]


def _manifest_space(manifest: Manifest) -> str:
    return str(manifest.params.get(SPACE_PARAM, ""))


def faiss_threads_apply() -> None:
    """FAISS's OpenMP threads for searches and verification's 2-NN (FACTCHECK_FAISS_THREADS)."""
    faiss.omp_set_num_threads(settings.FACTCHECK_FAISS_THREADS)
    _simd_level_log()


@functools.cache
def _simd_level_log() -> None:
    """Say once per process which SIMD kernels FAISS dispatched to (see LOGGING in settings)."""
    logger.info("faiss runs its %s kernels", faiss.SIMDConfig.get_level_name())


@contextmanager
def _writer_lock() -> Iterator[None]:
    index_dir().mkdir(parents=True, exist_ok=True)
    with (index_dir() / LOCK_FILE).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def index_rebuild() -> IndexChange:
    """Build every index from the database and publish it as a new version."""
    with _writer_lock():
        removals = list(PendingIndexRemoval.objects.values_list("pk", flat=True))
        rows, videos = fingerprint_rows(None), video_rows(None)
        summaries = [_build(name, videos if name in VIDEO_INDEXES else rows) for name in INDEXES]
        _settle_outbox(rows.unindexed, removals)
        return IndexChange([s for s in summaries if s is not None], rows.unindexed)


def index_update(*, add_ids: Sequence[int] = (), remove_ids: Sequence[int] = ()) -> IndexChange:
    """Apply `add_ids`, `remove_ids` and everything still in the outbox to every index.

    Idempotent: changed ids are removed before being (re-)added. An index past its delta limits
    gets its compaction enqueued (`index_compact`), not run under the lock.
    """
    compactions: list[str] = []
    with _writer_lock():
        # Removals first: a reference deleted after this read keeps its outbox row for next time.
        removals = list(PendingIndexRemoval.objects.values_list("pk", "reference_id"))
        rows = fingerprint_rows(Q(indexed=False) | Q(reference_id__in=list(add_ids)))
        removed = {int(i) for i in remove_ids} | {ref_id for _, ref_id in removals}
        changed = sorted(removed | set(rows.ids))
        summaries = []
        # A full scan (first use, or an embedding space switch) is read once and shared by
        # every index that needs it; so are the changed videos' rows.
        all_rows = functools.cache(_all_rows)
        changed_videos = functools.cache(functools.partial(video_rows, changed))
        firsts = (PDQ_INDEX, LOCAL_INDEX, VIDEO_FRAMES_INDEX)
        missing = any(read_manifest(index_dir(), n) is None for n in firsts)
        if changed or missing or _embedding_space_changed(rows.space):
            for name in INDEXES:
                video = name in VIDEO_INDEXES
                summary, compaction_due = _apply(
                    name,
                    changed,
                    changed_videos() if video else rows,
                    functools.partial(all_rows, video),
                )
                if summary is not None:
                    summaries.append(summary)
                if compaction_due:
                    compactions.append(name)
        _settle_outbox(rows.unindexed, [pk for pk, _ in removals])
    for name in compactions:  # the lock released: without a broker the task runs right here
        _compaction_enqueue(name)
    return IndexChange(summaries, rows.unindexed)


def _all_rows(video: bool) -> AnyRows:
    """Every row of the video indexes, or of the image indexes."""
    return video_rows(None) if video else fingerprint_rows(None)


def _rows_of(name: str, ids: list[int]) -> AnyRows:
    return video_rows(ids) if name in VIDEO_INDEXES else fingerprint_rows_of(ids)


def _compaction_enqueue(name: str) -> None:
    from factcheck.tasks import compact_index  # the tasks module imports this one

    transaction.on_commit(functools.partial(compact_index.delay, name))


def index_compact(*, name: str) -> IndexSummary | None:
    """Give index `name` a new base built from the database when its compaction is due, holding
    the writer lock only to read the version it starts from and to publish.

    Updates keep publishing deltas on the old base during the build (minutes at millions of
    references). The new base is published with one delta that re-applies, re-read from the
    database as `index_update` does, every id those deltas added or hid and every reference
    still in the outbox when the database was read: nothing published meanwhile is lost.
    References committed after that read and not yet published stay in the outbox for the next
    update. Idempotent: None when nothing is due, when another compaction of `name` is under
    way, or when a rebuild replaced the base meanwhile (this build is then stale).
    """
    with _compaction_claim(name) as claimed:
        if not claimed:
            return None
        staged_discard(index_dir(), name)  # what a killed compaction left
        try:
            return _compact(name)
        finally:
            staged_discard(index_dir(), name)


def _compact(name: str) -> IndexSummary | None:
    with _writer_lock():
        start = _compaction_start(name)
    if start is None:
        return None
    rows = _all_rows(name in VIDEO_INDEXES)
    if isinstance(rows, Rows) and name == LOCAL_INDEX and _local_over_limit(rows):
        return None  # the next update switches it off
    index = _built(name, rows)
    if index is None:
        return None
    staged = stage_index(index_dir(), name, index, _extra_params(index, rows.space))
    with _writer_lock():
        changed = changed_since(index_dir(), name, start)
        if changed is None:
            return None
        # A reference in the outbox when the rows were read may be published since, or deleted
        # before any version had it (its removal hid nothing): the database says which.
        reapplied = sorted(set(changed.tolist()) | set(rows.unindexed))
        delta = index.empty_like()
        _add(delta, _rows_of(name, reapplied))
        manifest = publish_staged(index_dir(), name, staged, removed_ids=reapplied, added=delta)
    logger.info("index %s v%d compacted, %d ids re-applied", name, manifest.version, len(reapplied))
    return _summary(name, manifest)


def _compaction_start(name: str) -> Snapshot | None:
    """The version a compaction of `name` starts from; None when it is not due."""
    manifest = read_manifest(index_dir(), name)
    if manifest is None or manifest.disabled:
        return None
    if name in SPACE_INDEXES and _manifest_space(manifest) != embedding_tag():
        return None  # another space: the next update rebuilds it (_embedding_rebuild_needed)
    base, _ = load_base(index_dir(), name)
    return snapshot(index_dir(), name) if _compaction_due(base, manifest) else None


@contextmanager
def _compaction_claim(name: str) -> Iterator[bool]:
    """True for the one compaction of `name` under way; any other (every update past the limits
    enqueues one meanwhile, a broker may redeliver one) gets False at once."""
    index_dir().mkdir(parents=True, exist_ok=True)
    with (index_dir() / COMPACTION_LOCK_FILE.format(name=name)).open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _settle_outbox(indexed_ids: list[int], removal_pks: list[int]) -> None:
    """Only what the published versions reflect: rows added meanwhile stay in the outbox."""
    for start in range(0, len(indexed_ids), MARK_BATCH):
        batch = indexed_ids[start : start + MARK_BATCH]
        Fingerprint.objects.filter(reference_id__in=batch).update(indexed=True)
    for start in range(0, len(removal_pks), MARK_BATCH):
        PendingIndexRemoval.objects.filter(pk__in=removal_pks[start : start + MARK_BATCH]).delete()


def _embedding_space_changed(space: str) -> bool:
    """A published embedding or video sample index holds another space than the configured
    one."""
    manifests = (read_manifest(index_dir(), name) for name in SPACE_INDEXES)
    return any(m is not None and _manifest_space(m) != space for m in manifests)


def _apply(
    name: str, changed: list[int], rows: AnyRows, all_rows: Callable[[], AnyRows]
) -> tuple[IndexSummary | None, bool]:
    """Publish `changed` (`rows` re-read) as a delta of `name`: its summary, and whether a
    compaction is due."""
    manifest = read_manifest(index_dir(), name)
    if name == LOCAL_INDEX and manifest is not None and manifest.disabled:
        return _summary(name, manifest), False  # off until rebuild_index finds it back
    if name == LOCAL_INDEX and _local_index_over_limit(references := Fingerprint.objects.count()):
        return _local_index_disable(references), False
    if manifest is None:
        if name in SPACE_INDEXES and rows.embedding_vectors is None:
            return None, False  # no embedding configured (or nothing new has one): no scan
        # First use (or an index added in an upgrade): build from the whole database.
        return _build(name, all_rows()), False
    if name in SPACE_INDEXES and _embedding_rebuild_needed(manifest, rows):
        return _build(name, all_rows()), False
    base, _ = load_base(index_dir(), name)
    delta = base.empty_like()
    _add(delta, rows)
    plan = plan_delta(index_dir(), name, removed_ids=changed, added=delta)
    if plan.changes_nothing:
        return _summary(name, manifest), False
    published = save_delta(index_dir(), name, plan)
    return _summary(name, published), _compaction_due(base, published)


def _compaction_due(base: AnyIndex, manifest: Manifest) -> bool:
    """Past the delta limits, or the base would be built differently at its live size."""
    changed_rows = manifest.delta_rows + manifest.hidden_rows
    return base.needs_rebuild(manifest.count) or compaction_due(
        base_rows=manifest.base_rows, delta_files=len(manifest.deltas), changed_rows=changed_rows
    )


def _embedding_rebuild_needed(manifest: Manifest, rows: AnyRows) -> bool:
    """Another model's vectors are never mixed in: after a space switch the index is rebuilt
    from this space's rows only; so is the empty index published before the new space had any
    vector, which kept the old model's size."""
    if _manifest_space(manifest) != rows.space:
        return True
    vectors = rows.embedding_vectors
    return vectors is not None and vectors.shape[1] != int(manifest.params.get("dim", 0))


def _summary(name: str, manifest: Manifest) -> IndexSummary:
    return IndexSummary(name=name, version=manifest.version, count=manifest.count)


def local_index_kept() -> bool:
    """Whether the local-descriptor index is maintained (its published manifest is not the
    disabled one), i.e. whether new references need their local features at intake."""
    manifest = read_manifest(index_dir(), LOCAL_INDEX)
    return manifest is None or not manifest.disabled


def _local_index_over_limit(references: int) -> bool:
    return references > settings.FACTCHECK_LOCAL_INDEX_MAX_REFERENCES


def _local_over_limit(rows: Rows) -> bool:
    return _local_index_over_limit(len(rows.features_files))


def _local_index_disable(references: int) -> IndexSummary:
    """Switch the local-descriptor index off (once: later updates see the disabled manifest)."""
    limit = settings.FACTCHECK_LOCAL_INDEX_MAX_REFERENCES
    reason = (
        f"{references} references, more than FACTCHECK_LOCAL_INDEX_MAX_REFERENCES={limit}: "
        "candidates come from the global indexes only; rebuild_index restores it under the limit"
    )
    manifest = read_manifest(index_dir(), LOCAL_INDEX)
    if manifest is None or not manifest.disabled:
        logger.warning("local-descriptor index switched off: %s", reason)
        manifest = save_disabled(index_dir(), LOCAL_INDEX, kind="local", reason=reason)
    return _summary(LOCAL_INDEX, manifest)


def _add(index: PdqIndex | ClipIndex | LocalIndex, rows: AnyRows) -> None:
    if isinstance(index, PdqIndex) and len(rows.hash_ids):
        index.add(rows.hashes, rows.hash_ids)
    elif isinstance(index, ClipIndex) and rows.embedding_vectors is not None:
        index.add(rows.embedding_vectors, rows.embedding_ids)
    elif isinstance(index, LocalIndex) and isinstance(rows, Rows):
        for ref_id, features in StoredFeatures(rows.features_files).items():
            index.add(ref_id, features)


def _build(name: str, rows: AnyRows) -> IndexSummary | None:
    if isinstance(rows, Rows) and name == LOCAL_INDEX and _local_over_limit(rows):
        return _local_index_disable(len(rows.features_files))
    index = _built(name, rows)
    if index is None:
        return None
    manifest = save_index(index_dir(), name, index, _extra_params(index, rows.space))
    return _summary(name, manifest)


def _built(name: str, rows: AnyRows) -> AnyIndex | None:
    """Index `name` of `rows`, in memory; None for an embedding or video sample index when no
    embedding is configured and none was ever published (the matcher then skips it)."""
    if name in HASH_INDEXES:
        ids = np.asarray(rows.hash_ids, dtype=np.int64)
        return PdqIndex.build(rows.hashes, ids, pdq_config())
    if name == LOCAL_INDEX:
        assert isinstance(rows, Rows)
        return LocalIndex.build(StoredFeatures(rows.features_files), local_config())
    if rows.embedding_vectors is None:
        previous = read_manifest(index_dir(), name)
        if previous is None:
            return None
        # Turned off, or no row of the new space yet: empty.
        dim = int(previous.params.get("dim", FloatIndexConfig.dim))
        empty = np.zeros((0, dim), np.float32)
        return ClipIndex.build(empty, np.zeros(0, np.int64), embedding_config(dim))
    ids = np.asarray(rows.embedding_ids, dtype=np.int64)
    dim = rows.embedding_vectors.shape[1]
    return ClipIndex.build(rows.embedding_vectors, ids, embedding_config(dim))


def _extra_params(index: AnyIndex, space: str) -> dict[str, str] | None:
    # The embedding index's manifest names its space (see the module docstring).
    return {SPACE_PARAM: space} if isinstance(index, ClipIndex) else None


def indexed_reference_ids(name: str) -> set[int]:
    """Reference ids present in the published index `name` (for consistency checks)."""
    return set(live_ids(index_dir(), name).tolist())
