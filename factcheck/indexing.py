"""Publishing the FAISS indexes of references: one writer at a time, readers never blocked.

Writers take an exclusive file lock next to the index files, load the current version, change it
and publish the next version (atomic rename, see factcheck.core.index_store). Readers use
IndexStore, which picks up a new version on their next query.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from factcheck.core.fingerprints import PDQ_BYTES
from factcheck.core.index import BinaryIndexConfig, ClipIndex, FloatIndexConfig, PdqIndex
from factcheck.core.index_store import IndexStore, load_index, read_manifest, save_index
from factcheck.models import Fingerprint

PDQ_INDEX = "pdq"
CLIP_INDEX = "clip"
LOCK_FILE = ".writer.lock"

_stores: dict[tuple[str, str], IndexStore] = {}


@dataclass(frozen=True)
class IndexSummary:
    name: str
    version: int
    count: int


def index_dir() -> Path:
    return Path(settings.INDEX_DIR)


def pdq_config() -> BinaryIndexConfig:
    return BinaryIndexConfig(flat_max_size=settings.INDEX_FLAT_MAX_SIZE)


def clip_config() -> FloatIndexConfig:
    return FloatIndexConfig(flat_max_size=settings.INDEX_FLAT_MAX_SIZE)


def index_reader(name: str) -> IndexStore:
    """The process-wide reader of one index (models and indexes load once per process)."""
    key = (str(index_dir()), name)
    if key not in _stores:
        _stores[key] = IndexStore(index_dir(), name)
    return _stores[key]


@contextmanager
def _writer_lock() -> Iterator[None]:
    index_dir().mkdir(parents=True, exist_ok=True)
    with (index_dir() / LOCK_FILE).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fingerprint_rows(reference_ids: list[int] | None) -> tuple[list[int], np.ndarray, list]:
    rows = Fingerprint.objects.order_by("reference_id")
    if reference_ids is not None:
        rows = rows.filter(reference_id__in=reference_ids)
    ids, hashes, clips = [], [], []
    for reference_id, pdq, clip in rows.values_list("reference_id", "pdq", "clip"):
        ids.append(reference_id)
        hashes.append(np.frombuffer(bytes(pdq), dtype=np.uint8))
        clips.append((reference_id, clip))
    matrix = np.stack(hashes) if hashes else np.zeros((0, PDQ_BYTES), dtype=np.uint8)
    return ids, matrix, clips


def _clip_matrix(clips: list) -> tuple[list[int], np.ndarray | None]:
    present = [(rid, np.frombuffer(bytes(blob), dtype=np.float32)) for rid, blob in clips if blob]
    if not present:
        return [], None
    return [rid for rid, _ in present], np.stack([vector for _, vector in present])


def index_rebuild() -> list[IndexSummary]:
    """Build every index from the database and publish it as a new version."""
    with _writer_lock():
        return _rebuild_unlocked()


def index_update(*, add_ids: Sequence[int] = (), remove_ids: Sequence[int] = ()) -> None:
    """Add or remove references incrementally. Idempotent: ids are removed before being added."""
    with _writer_lock():
        if read_manifest(index_dir(), PDQ_INDEX) is None:
            _rebuild_unlocked()
            return
        ids, hashes, clips = _fingerprint_rows(list(add_ids))
        changed = [*remove_ids, *ids]
        pdq_index, _ = load_index(index_dir(), PDQ_INDEX)
        pdq_index.remove(changed)
        if ids:
            pdq_index.add(hashes, ids)
        if pdq_index.needs_rebuild():
            _rebuild_unlocked()
            return
        _publish(PDQ_INDEX, pdq_index)
        _update_clip(changed, clips)


def _update_clip(changed: list[int], clips: list) -> None:
    clip_ids, vectors = _clip_matrix(clips)
    if read_manifest(index_dir(), CLIP_INDEX) is None:
        if vectors is not None:
            _publish(CLIP_INDEX, ClipIndex.build(vectors, np.array(clip_ids), clip_config()))
        return
    clip_index, _ = load_index(index_dir(), CLIP_INDEX)
    clip_index.remove(changed)
    if vectors is not None:
        clip_index.add(vectors, clip_ids)
    _publish(CLIP_INDEX, clip_index)


def _rebuild_unlocked() -> list[IndexSummary]:
    ids, hashes, clips = _fingerprint_rows(None)
    summaries = [_publish(PDQ_INDEX, PdqIndex.build(hashes, np.array(ids), pdq_config()))]
    clip_ids, vectors = _clip_matrix(clips)
    if vectors is not None:
        index = ClipIndex.build(vectors, np.array(clip_ids), clip_config())
        summaries.append(_publish(CLIP_INDEX, index))
    return summaries


def _publish(name: str, index: PdqIndex | ClipIndex) -> IndexSummary:
    manifest = save_index(index_dir(), name, index)
    return IndexSummary(name=name, version=manifest.version, count=manifest.count)
