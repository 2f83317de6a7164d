"""Versioned, checksummed index files: a base, appended deltas and removed ids; a hot-reloading,
memory-mapping reader.

Layout under a directory, per index name (e.g. "pdq", "embedding", "local"):
    <name>.v<V>.faiss           a base: every row when it was built (`save_index`)
    <name>.v<V>.ids.npy         the base's row ids, sorted (int64, one per row)
    <name>.v<V>.mih             a PDQ base searched by multi-index hashing: its tables
                                (factcheck.core.mih), mapped by readers rather than rebuilt
    <name>.v<V>.delta.faiss     a delta: only the rows one update added (`save_delta`)
    <name>.v<V>.delta.ids.npy   the delta's row ids, sorted
    <name>.v<V>.removed.npy     ids removed since the base: (m, 2) int64 [id, below], the id's
                                rows in layers (0 = base, i = delta i) below `below` are hidden
    <name>.manifest.json        format 2: version, live `count`, the base (`file`, `sha256`,
                                `base_rows`, `ids_file`, `mih_file`), `deltas` (file, sha256, rows,
                                index_type, ids_file), `removed_file`, `hidden_rows`, `params`;
                                or `disabled` (a reason) when the index is switched off

A version is a manifest; files are immutable and each is named by the version that wrote it. An
update writes a delta (cost proportional to the change) and republishes the manifest; once the
deltas pass DELTA_MAX_FILES files or DELTA_MAX_FRACTION of the base (`compaction_due`), a new
base is built from the database and published with what changed meanwhile
(factcheck.core.index_compaction). Format-1 manifests (before deltas) read as a base without
deltas; ids they lack are read from the index file.

Every file is written under a temp name, fsynced and `os.replace`d into place before the
manifest that names it, the same way. A reader therefore never sees a half-written file. Files
no longer named by the current or the previous manifest are deleted once KEEP_VERSIONS versions
old, so a reader that read the previous manifest a moment ago can still open what it names.

Readers (`IndexStore`, `load_index`) verify each file's checksum, memory-map it (shared by every
process of a machine through the page cache, see factcheck.core.faiss_io.MMAP_FLAGS) and keep
the files they already hold across versions, so a new delta costs a reader only that delta.
Manifests and the file primitives live in factcheck.core.index_manifest.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from factcheck.core.index import BinaryIndexConfig, ClipIndex, FloatIndexConfig, PdqIndex
from factcheck.core.index_manifest import (
    KEEP_VERSIONS,
    MANIFEST_FORMAT,
    IndexCorruptError,
    IndexDisabledError,
    Layer,
    Manifest,
    atomic_file,
    file_sha256,
    manifest_path,
    publish_manifest,
    read_manifest,
    verified,
)
from factcheck.core.layered import HiddenRows, LayeredIndex, layered
from factcheck.core.local_index import LocalIndex, LocalIndexConfig

__all__ = [  # what callers import from here (the manifest module is an implementation detail)
    "KEEP_VERSIONS",
    "MANIFEST_FORMAT",
    "IndexCorruptError",
    "IndexDisabledError",
    "IndexStore",
    "Layer",
    "Manifest",
    "compaction_due",
    "live_ids",
    "load_base",
    "load_index",
    "plan_delta",
    "read_manifest",
    "save_delta",
    "save_disabled",
    "save_index",
]

# Compaction limits: every delta is one more search per query, and hidden rows are searched and
# dropped, so past these a full rebuild (which also retrains) is cheaper than carrying them.
DELTA_MAX_FILES = 32
DELTA_MAX_FRACTION = 0.1  # rows added or hidden since the base, relative to the base's rows
# A reader that finds a file gone (pruned after the writer moved two versions on) reads the
# manifest again this many times in all.
LOAD_ATTEMPTS = 3
AnyIndex = PdqIndex | ClipIndex | LocalIndex
LoadedT = TypeVar("LoadedT")
SearchableIndex = AnyIndex | LayeredIndex
INDEX_KINDS: dict[str, Any] = {"pdq": PdqIndex, "clip": ClipIndex, "local": LocalIndex}
CONFIGS: dict[str, Any] = {
    "pdq": BinaryIndexConfig,
    "clip": FloatIndexConfig,
    "local": LocalIndexConfig,
}


def _write_index(directory: Path, file_name: str, index: AnyIndex) -> str:
    with atomic_file(directory / file_name) as temp_name:
        index.write(temp_name)  # straight to disk: no serialised copy of the index in memory
    return file_sha256(directory / file_name)


def _write_mih(directory: Path, file_name: str, index: PdqIndex) -> str:
    with atomic_file(directory / file_name) as temp_name, open(temp_name, "wb") as file:
        index.write_mih(file)
    return file_sha256(directory / file_name)


def _write_ids(directory: Path, file_name: str, array: np.ndarray) -> str:
    with atomic_file(directory / file_name) as temp_name, open(temp_name, "wb") as file:
        np.save(file, np.ascontiguousarray(array, dtype=np.int64))
    return file_sha256(directory / file_name)


def _kind_of(index: AnyIndex) -> str:
    return next(kind for kind, cls in INDEX_KINDS.items() if isinstance(index, cls))


def save_index(
    directory: str | os.PathLike[str],
    name: str,
    index: AnyIndex,
    extra_params: dict[str, Any] | None = None,
) -> Manifest:
    """Publish `index` as the next version of `name`: a new base without deltas (a build or a
    rebuild); `extra_params` join the manifest's parameters (deltas keep them). Single
    writer per name is assumed (the index-building Celery queue has concurrency 1, and
    factcheck.indexing takes a file lock)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(directory, name)
    version = (previous.version if previous else 0) + 1
    manifest = _write_base(directory, f"{name}.v{version}", index, extra_params)
    return publish_manifest(directory, name, replace(manifest, version=version), previous)


def _write_base(
    directory: Path, stem: str, index: AnyIndex, extra_params: dict[str, Any] | None
) -> Manifest:
    """Write the files of a base, `<stem>.faiss` and the rest; its manifest (version 0)."""
    file_name, ids_file = f"{stem}.faiss", f"{stem}.ids.npy"
    mih_file, mih_sha256 = "", ""
    if isinstance(index, PdqIndex) and index.kind == "mih" and len(index):
        # Built once here rather than by every reader of every machine (~150 B per hash each).
        mih_file = f"{stem}.mih"
        mih_sha256 = _write_mih(directory, mih_file, index)
    return Manifest(
        kind=_kind_of(index),
        version=0,
        count=len(index),
        sha256=_write_index(directory, file_name, index),
        file=file_name,
        params={**index.params(), **(extra_params or {})},
        created_at=time.time(),
        base_rows=len(index),
        ids_file=ids_file,
        ids_sha256=_write_ids(directory, ids_file, np.sort(index.row_ids())),
        mih_file=mih_file,
        mih_sha256=mih_sha256,
    )


def save_disabled(
    directory: str | os.PathLike[str], name: str, *, kind: str, reason: str
) -> Manifest:
    """Publish a version of `name` that switches the index off: readers drop what they hold and
    go without it until a base is saved again."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(directory, name)
    manifest = Manifest(
        kind=kind,
        version=(previous.version if previous else 0) + 1,
        count=0,
        sha256="",
        file="",
        params=previous.params if previous else {},
        created_at=time.time(),
        disabled=reason,
    )
    return publish_manifest(directory, name, manifest, previous)


@dataclass(frozen=True)
class DeltaPlan:
    """What `save_delta` would publish: decided first, so a writer skips a change of nothing."""

    previous: Manifest
    added: AnyIndex | None
    hidden: HiddenRows  # every removal since the base, with this update's
    removed_rows: int  # live rows this update hides
    count: int  # live rows after it

    @property
    def added_rows(self) -> int:
        return len(self.added) if self.added is not None else 0

    @property
    def changes_nothing(self) -> bool:
        return self.added_rows == 0 and self.removed_rows == 0


def compaction_due(*, base_rows: int, delta_files: int, changed_rows: int) -> bool:
    """True past the delta limits (`changed_rows`: added or hidden since the base): then build a
    new base (a compaction) rather than keep appending."""
    return delta_files > DELTA_MAX_FILES or changed_rows > DELTA_MAX_FRACTION * base_rows


def plan_delta(
    directory: str | os.PathLike[str],
    name: str,
    *,
    removed_ids: Sequence[int] | np.ndarray,
    added: AnyIndex | None,
) -> DeltaPlan:
    """Remove `removed_ids` (unknown ones are ignored) then add the rows of `added` (an index
    from `empty_like()` of the base) as the next delta. Reads only the manifest, the removed
    ids and the layers' sorted id files (memory-mapped: a few pages per removed id)."""
    directory = Path(directory)
    return _plan(directory, _enabled_manifest(directory, name), removed_ids, added)


def _plan(
    directory: Path,
    previous: Manifest,
    removed_ids: Sequence[int] | np.ndarray,
    added: AnyIndex | None,
) -> DeltaPlan:
    hidden = _hidden_rows(directory, previous)
    removed = np.unique(np.asarray(removed_ids, dtype=np.int64))
    visible_from = hidden.below_of(removed)
    live_rows = np.zeros(len(removed), np.int64)
    for number, layer in enumerate(previous.layers):
        # The writer's own files: not re-hashed here, which would cost the whole base per update.
        ids = _layer_ids(directory, previous, layer, verify=False)
        rows = np.searchsorted(ids, removed, "right") - np.searchsorted(ids, removed, "left")
        live_rows += np.where(number >= visible_from, rows, 0)
    hidden = hidden.hiding(removed[live_rows > 0], below=len(previous.layers))
    removed_rows = int(live_rows.sum())
    added_rows = len(added) if added is not None else 0
    count = previous.count - removed_rows + added_rows
    return DeltaPlan(previous, added, hidden, removed_rows, count)


def save_delta(directory: str | os.PathLike[str], name: str, plan: DeltaPlan) -> Manifest:
    """Publish `plan` as the next version: the previous layers, one more delta holding the
    added rows (none when nothing was added) and the removed ids."""
    directory = Path(directory)
    previous = plan.previous
    current = read_manifest(directory, name)
    if current is None or current.version != previous.version:
        raise RuntimeError(f"index {name!r} changed since the delta was planned")
    manifest = _delta_manifest(directory, name, plan, previous.version + 1)
    return publish_manifest(directory, name, manifest, previous)


def _delta_manifest(directory: Path, name: str, plan: DeltaPlan, version: int) -> Manifest:
    """Write `plan`'s files as version `version`; the manifest naming them (unpublished)."""
    previous = plan.previous
    deltas = previous.deltas
    removed_file, removed_sha256 = previous.removed_file, previous.removed_sha256
    if plan.added is not None and plan.added_rows:
        file_name, ids_file = f"{name}.v{version}.delta.faiss", f"{name}.v{version}.delta.ids.npy"
        delta = Layer(
            file=file_name,
            sha256=_write_index(directory, file_name, plan.added),
            rows=plan.added_rows,
            index_type=plan.added.kind,
            ids_file=ids_file,
            ids_sha256=_write_ids(directory, ids_file, np.sort(plan.added.row_ids())),
        )
        deltas = (*deltas, delta)
    if plan.removed_rows:
        removed_file = f"{name}.v{version}.removed.npy"
        removed_sha256 = _write_ids(directory, removed_file, plan.hidden.to_array())
    return replace(
        previous,
        version=version,
        count=plan.count,
        created_at=time.time(),
        format=MANIFEST_FORMAT,
        deltas=deltas,
        removed_file=removed_file,
        removed_sha256=removed_sha256,
        hidden_rows=previous.hidden_rows + plan.removed_rows,
    )


def _enabled_manifest(directory: Path, name: str) -> Manifest:
    manifest = read_manifest(directory, name)
    if manifest is None:
        raise FileNotFoundError(f"no index manifest for {name!r} in {directory}")
    if manifest.disabled:
        raise IndexDisabledError(f"index {name!r} is disabled: {manifest.disabled}")
    return manifest


def _config(config_class: Any, params: dict[str, Any]) -> Any:
    """Parameters a file was written with; ones this version no longer knows are ignored (the
    index file itself carries the structure), so older manifests stay loadable."""
    known = {field.name for field in fields(config_class)}
    return config_class(**{key: value for key, value in params.items() if key in known})


def _read_layer(directory: Path, manifest: Manifest, layer: Layer, *, mmap: bool) -> AnyIndex:
    if manifest.kind not in INDEX_KINDS:
        raise IndexCorruptError(f"unknown index kind {manifest.kind!r} in manifest")
    path = verified(directory / layer.file, layer.sha256)
    config = _config(CONFIGS[manifest.kind], manifest.params)
    index: AnyIndex = INDEX_KINDS[manifest.kind].read(
        str(path), layer.index_type, config, mmap=mmap
    )
    if mmap and layer.file == manifest.file and manifest.mih_file and isinstance(index, PdqIndex):
        index.use_mih_file(str(verified(directory / manifest.mih_file, manifest.mih_sha256)))
    return index


def _layer_ids(directory: Path, manifest: Manifest, layer: Layer, *, verify: bool) -> np.ndarray:
    """The layer's row ids, sorted (memory-mapped from its ids file when it has one)."""
    if not layer.ids_file:  # format 1
        return np.sort(_read_layer(directory, manifest, layer, mmap=True).row_ids())
    path = directory / layer.ids_file
    if verify:
        verified(path, layer.ids_sha256)
    ids: np.ndarray = np.load(path, mmap_mode="r")
    return ids


def _hidden_rows(directory: Path, manifest: Manifest) -> HiddenRows:
    if not manifest.removed_file:
        return HiddenRows.none()
    path = verified(directory / manifest.removed_file, manifest.removed_sha256)
    return HiddenRows.from_array(np.load(path))


Loaded = dict[tuple[str, str], AnyIndex]  # (file, sha256) -> the open layer


def _assemble(
    directory: Path, manifest: Manifest, loaded: Loaded, *, mmap: bool
) -> tuple[SearchableIndex, Loaded]:
    """The searchable index of `manifest`, reusing layers in `loaded`; and the layers it holds."""
    holding: Loaded = {}
    for layer in manifest.layers:
        key = (layer.file, layer.sha256)
        holding[key] = loaded.get(key) or _read_layer(directory, manifest, layer, mmap=mmap)
    layers = [holding[(layer.file, layer.sha256)] for layer in manifest.layers]
    return layered(layers, _hidden_rows(directory, manifest), manifest.count), holding


def _retrying(load: Callable[[], LoadedT]) -> LoadedT:
    """`load()` again when a file its manifest named was pruned meanwhile (the writer moved
    two versions on): the manifest it reads next names files that exist."""
    for attempt in range(LOAD_ATTEMPTS):
        try:
            return load()
        except IndexDisabledError:
            raise
        except FileNotFoundError:
            if attempt == LOAD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def load_index(
    directory: str | os.PathLike[str], name: str, *, mmap: bool = True
) -> tuple[SearchableIndex, Manifest]:
    """The current version, memory-mapped and read-only (or a private, changeable copy with
    `mmap=False`); raises IndexCorruptError if a checksum does not match."""
    directory = Path(directory)

    def load() -> tuple[SearchableIndex, Manifest]:
        manifest = _enabled_manifest(directory, name)
        return _assemble(directory, manifest, {}, mmap=mmap)[0], manifest

    return _retrying(load)


def load_base(directory: str | os.PathLike[str], name: str) -> tuple[AnyIndex, Manifest]:
    """The current base alone, memory-mapped: for the writer, which needs its trained structure
    (`empty_like`) and size limits (`needs_rebuild`). Not re-hashed: the writer wrote it, and
    hashing a multi-GB base on every update would cost what deltas save."""
    directory = Path(directory)
    manifest = _enabled_manifest(directory, name)
    base = manifest.base
    config = _config(CONFIGS[manifest.kind], manifest.params)
    index = INDEX_KINDS[manifest.kind].read(
        str(directory / base.file), base.index_type, config, mmap=True
    )
    return index, manifest


def live_ids(directory: str | os.PathLike[str], name: str) -> np.ndarray:
    """Sorted unique ids with a live row in the current version (none when absent/disabled)."""
    directory = Path(directory)
    manifest = read_manifest(directory, name)
    if manifest is None or manifest.disabled:
        return np.zeros(0, np.int64)
    hidden = _hidden_rows(directory, manifest)
    live = [np.zeros(0, np.int64)]
    for number, layer in enumerate(manifest.layers):
        ids = np.asarray(_layer_ids(directory, manifest, layer, verify=True))
        live.append(ids[~hidden.in_layer(ids, number)])
    return np.unique(np.concatenate(live))


class IndexStore:
    """Per-process holder of one published index that picks up newer versions without restart.

    `get()` costs one `os.stat` of the manifest when nothing changed, so workers can call it on
    every query. A new version costs the files it adds (a delta); layers already held stay.
    """

    def __init__(self, directory: str | os.PathLike[str], name: str, *, mmap: bool = True) -> None:
        self.directory = Path(directory)
        self.name = name
        self.mmap = mmap  # False: private copies (what every reader held before, for comparison)
        self._lock = threading.Lock()
        self._index: SearchableIndex | None = None
        self._manifest: Manifest | None = None
        self._loaded: Loaded = {}
        self._stamp: tuple[int, int, int] | None = None

    @property
    def version(self) -> int | None:
        return self._manifest.version if self._manifest else None

    def get(self) -> SearchableIndex | None:
        """The newest published index, or None if none has been published yet (or it was
        switched off)."""
        try:
            stat = manifest_path(self.directory, self.name).stat()
        except FileNotFoundError:
            return self._index
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp == self._stamp:
            return self._index
        with self._lock:
            if stamp != self._stamp:
                _retrying(self._refresh)
                self._stamp = stamp
        return self._index

    def _refresh(self) -> None:
        manifest = read_manifest(self.directory, self.name)
        if manifest is None or (self._manifest and manifest.version <= self._manifest.version):
            return
        if manifest.disabled:
            self._index, self._loaded = None, {}
        else:
            self._index, self._loaded = _assemble(
                self.directory, manifest, self._loaded, mmap=self.mmap
            )
        self._manifest = manifest
