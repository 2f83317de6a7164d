"""Versioned, checksummed index files and a reader that hot-reloads newer versions.

Layout under a directory, per index name (e.g. "pdq", "clip"):
    <name>.v<version>.faiss    immutable index file, one per version
    <name>.manifest.json       {"kind", "version", "count", "sha256", "file", "params", ...}

The writer writes the index file to a temp name, fsyncs, `os.replace`s it into place, and only
then replaces the manifest the same way. A reader therefore never sees a half-written file: the
manifest it reads always names a complete file. Old versions are kept briefly (KEEP_VERSIONS) so a
reader that read the previous manifest a moment ago can still open the file it names.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from factcheck.core.index import BinaryIndexConfig, ClipIndex, FloatIndexConfig, PdqIndex
from factcheck.core.local_index import LocalIndex, LocalIndexConfig

MANIFEST_FORMAT = 1
KEEP_VERSIONS = 2
AnyIndex = PdqIndex | ClipIndex | LocalIndex
INDEX_KINDS = {"pdq": PdqIndex, "clip": ClipIndex, "local": LocalIndex}


class IndexCorruptError(RuntimeError):
    """The index file on disk does not match its manifest (checksum, kind or format)."""


@dataclass(frozen=True)
class Manifest:
    kind: str  # "pdq" | "clip" | "local"
    version: int
    count: int
    sha256: str
    file: str
    params: dict[str, Any]
    created_at: float
    format: int = MANIFEST_FORMAT


def _manifest_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.manifest.json"


def _atomic_write(path: Path, payload: bytes) -> None:
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp_file:
            temp_file.write(payload)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def read_manifest(directory: str | os.PathLike[str], name: str) -> Manifest | None:
    path = _manifest_path(Path(directory), name)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:
        raise IndexCorruptError(f"unreadable manifest {path}: {error}") from error
    known = {field.name for field in fields(Manifest)}
    return Manifest(**{key: value for key, value in raw.items() if key in known})


def save_index(directory: str | os.PathLike[str], name: str, index: AnyIndex) -> Manifest:
    """Publish `index` as the next version of `name`. Single writer per name is assumed (the
    index-building Celery queue has concurrency 1)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(directory, name)
    version = (previous.version if previous else 0) + 1
    blob = index.serialize()
    file_name = f"{name}.v{version}.faiss"
    _atomic_write(directory / file_name, blob)
    manifest = Manifest(
        kind=next(name for name, cls in INDEX_KINDS.items() if isinstance(index, cls)),
        version=version,
        count=len(index),
        sha256=hashlib.sha256(blob).hexdigest(),
        file=file_name,
        params=index.params(),
        created_at=time.time(),
    )
    payload = json.dumps(manifest.__dict__, indent=2, sort_keys=True).encode()
    _atomic_write(_manifest_path(directory, name), payload)
    _prune_old_versions(directory, name, version)
    return manifest


def _prune_old_versions(directory: Path, name: str, current: int) -> None:
    for path in directory.glob(f"{name}.v*.faiss"):
        try:
            version = int(path.name[len(name) + 2 : -len(".faiss")])
        except ValueError:
            continue
        if version <= current - KEEP_VERSIONS:
            path.unlink(missing_ok=True)


def load_index(directory: str | os.PathLike[str], name: str) -> tuple[AnyIndex, Manifest]:
    """Load the current version; raises IndexCorruptError if the checksum does not match."""
    directory = Path(directory)
    manifest = read_manifest(directory, name)
    if manifest is None:
        raise FileNotFoundError(f"no index manifest for {name!r} in {directory}")
    if manifest.format != MANIFEST_FORMAT:
        raise IndexCorruptError(f"unsupported manifest format {manifest.format} for {name!r}")
    blob = (directory / manifest.file).read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != manifest.sha256:
        raise IndexCorruptError(
            f"checksum mismatch for {directory / manifest.file}: manifest says "
            f"{manifest.sha256[:12]}..., file has {digest[:12]}...; rebuild the index"
        )
    params = dict(manifest.params)
    kind = params.pop("index_type")
    if manifest.kind == "pdq":
        return PdqIndex.deserialize(blob, kind, _config(BinaryIndexConfig, params)), manifest
    if manifest.kind == "clip":
        return ClipIndex.deserialize(blob, kind, _config(FloatIndexConfig, params)), manifest
    if manifest.kind == "local":
        return LocalIndex.deserialize(blob, kind, _config(LocalIndexConfig, params)), manifest
    raise IndexCorruptError(f"unknown index kind {manifest.kind!r} in manifest for {name!r}")


def _config(config_class: Any, params: dict[str, Any]) -> Any:
    """Parameters a file was written with; ones this version no longer knows are ignored (the
    index file itself carries the structure), so older manifests stay loadable."""
    known = {field.name for field in fields(config_class)}
    return config_class(**{key: value for key, value in params.items() if key in known})


class IndexStore:
    """Per-process holder of one published index that picks up newer versions without restart.

    `get()` costs one `os.stat` of the manifest when nothing changed, so workers can call it on
    every query.
    """

    def __init__(self, directory: str | os.PathLike[str], name: str) -> None:
        self.directory = Path(directory)
        self.name = name
        self._lock = threading.Lock()
        self._index: AnyIndex | None = None
        self._manifest: Manifest | None = None
        self._stamp: tuple[int, int, int] | None = None

    @property
    def version(self) -> int | None:
        return self._manifest.version if self._manifest else None

    def get(self) -> AnyIndex | None:
        """The newest published index, or None if none has been published yet."""
        try:
            stat = _manifest_path(self.directory, self.name).stat()
        except FileNotFoundError:
            return self._index
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp == self._stamp:
            return self._index
        with self._lock:
            if stamp != self._stamp:
                manifest = read_manifest(self.directory, self.name)
                if manifest and (self._manifest is None or manifest.version > self.version):
                    self._index, self._manifest = load_index(self.directory, self.name)
                self._stamp = stamp
        return self._index
