"""Publishing a base built without the writer's lock (factcheck.indexing's compaction).

A compaction builds a new base from the database while updates keep appending deltas to the
published one, then, briefly under the lock, publishes it with what those updates changed:

- `snapshot` keeps the version the build starts from, with its removals (the file naming them
  may be pruned before the build ends);
- `stage_index` writes the new base's files under a name no version uses
  (`.<name>.staged-<random>.faiss`, `.ids.npy`, `.mih`), hashing them, without the lock;
- `changed_since` names the ids the versions published after the snapshot added or hid
  (None when a rebuild published another base meanwhile: the build is then stale);
- `publish_staged` renames the staged files to the next version's names and publishes them,
  with one delta re-applying those ids, as one version.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from factcheck.core.index_manifest import Manifest, publish_manifest, read_manifest
from factcheck.core.index_store import (
    AnyIndex,
    _delta_manifest,
    _enabled_manifest,
    _hidden_rows,
    _layer_ids,
    _plan,
    _write_base,
)
from factcheck.core.layered import HiddenRows

STAGED_INFIX = ".staged-"  # .<name>.staged-<random>.faiss: a base no version names yet


@dataclass(frozen=True)
class StagedBase:
    """A base written next to the published versions but named by none yet (`stage_index`)."""

    stem: str  # its files are <stem>.faiss, <stem>.ids.npy and <stem>.mih
    manifest: Manifest  # version 0, naming those files


def stage_index(
    directory: str | os.PathLike[str],
    name: str,
    index: AnyIndex,
    extra_params: dict[str, Any] | None = None,
) -> StagedBase:
    """Write `index` as a base of `name` for `publish_staged` to publish later. Writing and
    hashing a large base (and building its multi-index hash tables) is most of publishing it:
    staged, it costs the writer's lock nothing. Unnamed files stay until `staged_discard`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f".{name}{STAGED_INFIX}{uuid.uuid4().hex}"  # never matched as `<name>.v*`
    return StagedBase(stem, _write_base(directory, stem, index, extra_params))


def publish_staged(
    directory: str | os.PathLike[str],
    name: str,
    staged: StagedBase,
    *,
    removed_ids: Sequence[int] | np.ndarray = (),
    added: AnyIndex | None = None,
) -> Manifest:
    """Publish `staged` as the next version of `name` (its files renamed to that version's),
    with one delta on top when `removed_ids` (hidden in the new base) or `added` (rows in an
    index from the staged base's `empty_like()`) change it: one version, so no reader sees
    the new base without them. Costs renames and the delta, under the writer's lock."""
    directory = Path(directory)
    previous = read_manifest(directory, name)
    version = (previous.version if previous else 0) + 1
    stem, named = staged.stem, f"{name}.v{version}"
    renamed = {}
    for staged_name in (staged.manifest.file, staged.manifest.ids_file, staged.manifest.mih_file):
        if staged_name:
            renamed[staged_name] = named + staged_name.removeprefix(stem)
            os.replace(directory / staged_name, directory / renamed[staged_name])
    base = replace(
        staged.manifest,
        version=version,
        created_at=time.time(),
        file=renamed[staged.manifest.file],
        ids_file=renamed[staged.manifest.ids_file],
        mih_file=renamed.get(staged.manifest.mih_file, ""),
    )
    plan = _plan(directory, base, removed_ids, added)
    manifest = base if plan.changes_nothing else _delta_manifest(directory, name, plan, version)
    return publish_manifest(directory, name, manifest, previous)


def staged_discard(directory: str | os.PathLike[str], name: str) -> None:
    """Delete the staged bases of `name` no version names: what a stager that was stopped or
    that gave up left. For the one process that stages bases of `name` (see stage_index)."""
    for path in Path(directory).glob(f".{name}{STAGED_INFIX}*"):
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Snapshot:
    """A published version with its removals, to tell later what changed since (the removed
    file it names may be pruned by then)."""

    manifest: Manifest
    hidden: HiddenRows


def snapshot(directory: str | os.PathLike[str], name: str) -> Snapshot:
    directory = Path(directory)
    manifest = _enabled_manifest(directory, name)
    return Snapshot(manifest, _hidden_rows(directory, manifest))


def changed_since(
    directory: str | os.PathLike[str], name: str, since: Snapshot
) -> np.ndarray | None:
    """Sorted ids whose rows the versions published after `since` added or hid; None when
    `name` has another base now (a rebuild or a compaction published one) or is disabled."""
    directory = Path(directory)
    current, before = read_manifest(directory, name), since.manifest
    kept = len(before.deltas)
    if (
        current is None
        or current.disabled
        or current.base != before.base
        or current.deltas[:kept] != before.deltas
    ):
        return None
    added = [
        np.asarray(_layer_ids(directory, current, layer, verify=False))
        for layer in current.deltas[kept:]
    ]
    hidden = _hidden_rows(directory, current)
    # Hidden anew, or again below a newer layer (added back, then removed again).
    rehidden = hidden.ids[since.hidden.below_of(hidden.ids) != hidden.below]
    return np.unique(np.concatenate([rehidden, *added]))
