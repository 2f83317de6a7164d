"""What an evaluation computes per reference picture (local features, PDQ bits, the global
embedding), kept on disk so a rerun against the same references skips it.

A hard-tier run at 10,000 distractors spends most of its hour there, and the procedural
distractors are the same pictures for the tune and the test split. An entry is named by the
picture's pixels; its folder by everything else that decides the result: the feature settings,
the embedder's configuration (the shipped descriptor's names its checkpoint's digest) and the
source of the modules that compute them. A change to any of them starts a new folder, so a
stale entry is never read.
"""

from __future__ import annotations

import hashlib
import inspect
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from factcheck.core import features as features_module
from factcheck.core import fingerprints as fingerprints_module
from factcheck.core.features import FeatureConfig, Features, extract_features
from factcheck.core.fingerprints import pdq_hash
from factcheck.core.index_manifest import atomic_file

COMPUTING_MODULES = (features_module, fingerprints_module)
# What np.load raises on an entry that is not a whole archive of ours (another program's file,
# a disk that lost its tail): such an entry is a miss and is written again.
DAMAGED_ENTRY = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


class CacheDirError(ValueError):
    """The cache folder cannot be made or written to."""


@dataclass
class ReferenceEntry:
    features: Features
    pdq_bits: np.ndarray
    embedding: np.ndarray | None  # (dim,) when an embedder was given


def compute_entry(image: np.ndarray, config: FeatureConfig) -> ReferenceEntry:
    """Features and PDQ bits (the embedding is computed in batches by the caller)."""
    return ReferenceEntry(extract_features(image, config), pdq_hash(image).bits, None)


def _folder_key(config: FeatureConfig, embedder: Any | None) -> str:
    digest = hashlib.sha256(repr(config).encode())
    for module in COMPUTING_MODULES:
        digest.update(Path(str(module.__file__)).read_bytes())
    if embedder is not None:
        source = inspect.getsourcefile(type(embedder))
        digest.update(Path(source).read_bytes() if source else b"")
        digest.update(repr(getattr(embedder, "config", None)).encode())
        digest.update(str(getattr(embedder, "tag", type(embedder).__name__)).encode())
    return digest.hexdigest()[:16]


def picture_key(image: np.ndarray) -> str:
    digest = hashlib.sha256(str((image.shape, image.dtype.str)).encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


class ReferenceCache:
    """`get` returns the stored entry, or None where there is none or it is damaged; `put`
    stores one atomically (two runs may share the folder)."""

    def __init__(self, root: str | Path, config: FeatureConfig, embedder: Any | None = None):
        self.folder = Path(root) / _folder_key(config, embedder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            message = f"cannot keep reference features in {root}: {error.strerror}"
            raise CacheDirError(message) from None

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> ReferenceEntry | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as stored:
                features = Features(
                    stored["points"], stored["descriptors"], tuple(stored["image_size"].tolist())
                )
                return ReferenceEntry(
                    features,
                    stored["pdq"],
                    stored["embedding"] if "embedding" in stored.files else None,
                )
        except DAMAGED_ENTRY:
            return None

    def put(self, key: str, entry: ReferenceEntry) -> None:
        # As computed (float32), not as a deployment stores them, so a rerun scores the same.
        arrays: dict[str, np.ndarray] = {
            "points": entry.features.points,
            "descriptors": entry.features.descriptors,
            "image_size": np.array(entry.features.image_size),
            "pdq": entry.pdq_bits,
        }
        if entry.embedding is not None:
            arrays["embedding"] = entry.embedding
        try:
            with atomic_file(self._path(key)) as temp_name, open(temp_name, "wb") as handle:
                np.savez(handle, **arrays)  # type: ignore[arg-type]
        except OSError as error:
            message = f"cannot write reference features to {self.folder}: {error.strerror}"
            raise CacheDirError(message) from None
