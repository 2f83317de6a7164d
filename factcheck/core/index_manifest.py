"""Manifests of published indexes and the file primitives they rest on (see index_store).

A manifest names every file of one version; files are immutable, written under a temp name,
fsynced and renamed into place before the manifest that names them is replaced the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

MANIFEST_FORMAT = 2
READABLE_FORMATS = (1, 2)  # 1: a base only (before deltas)
KEEP_VERSIONS = 2


class IndexCorruptError(RuntimeError):
    """The index file on disk does not match its manifest (checksum, kind or format)."""


class IndexDisabledError(FileNotFoundError):
    """The index was switched off (its manifest says why); readers go without it."""


@dataclass(frozen=True)
class Layer:
    """One index file of a version: the base or a delta."""

    file: str
    sha256: str
    rows: int
    index_type: str
    ids_file: str = ""  # absent in format 1: the ids are read from the index file
    ids_sha256: str = ""


@dataclass(frozen=True)
class Manifest:
    kind: str  # "pdq" | "clip" | "local"
    version: int
    count: int  # live rows: base + deltas - hidden
    sha256: str  # of the base file
    file: str  # the base file
    params: dict[str, Any]
    created_at: float
    format: int = MANIFEST_FORMAT
    base_rows: int = 0
    ids_file: str = ""
    ids_sha256: str = ""
    deltas: tuple[Layer, ...] = ()
    removed_file: str = ""
    removed_sha256: str = ""
    hidden_rows: int = 0  # rows of the base and deltas hidden by removals
    disabled: str = ""  # why the index is switched off; then it names no file
    mih_file: str = ""  # a multi-index hash PDQ base's search tables
    mih_sha256: str = ""

    @property
    def base(self) -> Layer:
        index_type = str(self.params.get("index_type", ""))
        return Layer(
            self.file, self.sha256, self.base_rows, index_type, self.ids_file, self.ids_sha256
        )

    @property
    def layers(self) -> tuple[Layer, ...]:
        return () if self.disabled else (self.base, *self.deltas)

    @property
    def delta_rows(self) -> int:
        return sum(delta.rows for delta in self.deltas)

    def files(self) -> list[str]:
        """Every file this version names."""
        names = [name for layer in self.layers for name in (layer.file, layer.ids_file)]
        return [name for name in [*names, self.removed_file, self.mih_file] if name]


def manifest_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.manifest.json"


@contextmanager
def atomic_file(path: Path) -> Iterator[str]:
    """A temp path next to `path` to write; on success fsynced and renamed to `path`."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield temp_name
        with open(temp_name, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, payload: bytes) -> None:
    with atomic_file(path) as temp_name:
        Path(temp_name).write_bytes(payload)


def file_sha256(path: Path) -> str:
    """Streamed: a multi-GB base is hashed through the page cache, never copied whole."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def verified(path: Path, sha256: str) -> Path:
    digest = file_sha256(path)
    if digest != sha256:
        raise IndexCorruptError(
            f"checksum mismatch for {path}: manifest says {sha256[:12]}..., file has "
            f"{digest[:12]}...; rebuild the index"
        )
    return path


def read_manifest(directory: str | os.PathLike[str], name: str) -> Manifest | None:
    path = manifest_path(Path(directory), name)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:
        raise IndexCorruptError(f"unreadable manifest {path}: {error}") from error
    raw.setdefault("format", 1)
    if raw["format"] not in READABLE_FORMATS:
        raise IndexCorruptError(f"unsupported manifest format {raw['format']} for {name!r}")
    raw.setdefault("base_rows", raw.get("count", 0))  # format 1: the base is everything
    raw["deltas"] = tuple(Layer(**delta) for delta in raw.get("deltas", ()))
    known = {field.name for field in fields(Manifest)}
    return Manifest(**{key: value for key, value in raw.items() if key in known})


def publish_manifest(
    directory: Path, name: str, manifest: Manifest, previous: Manifest | None
) -> Manifest:
    payload = json.dumps(asdict(manifest), indent=2, sort_keys=True).encode()
    atomic_write(manifest_path(directory, name), payload)
    _prune_old_files(directory, name, manifest, previous)
    return manifest


def _file_version(name: str, file_name: str) -> int | None:
    """V of `<name>.v<V>.<anything>`, None for other files."""
    prefix = f"{name}.v"
    if not file_name.startswith(prefix):
        return None
    number = file_name[len(prefix) :].split(".", 1)[0]
    return int(number) if number.isdigit() else None


def _prune_old_files(
    directory: Path, name: str, current: Manifest, previous: Manifest | None
) -> None:
    named = set(current.files()) | set(previous.files() if previous else ())
    for path in directory.glob(f"{name}.v*"):
        version = _file_version(name, path.name)
        if version is None or path.name in named:
            continue
        if version <= current.version - KEEP_VERSIONS:
            # A reader holding it memory-mapped keeps its pages until it lets go (POSIX unlink).
            path.unlink(missing_ok=True)
