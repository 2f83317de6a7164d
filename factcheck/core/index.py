"""FAISS indexes for reference fingerprints, keyed by int64 reference id.

`PdqIndex` holds packed 256-bit PDQ hashes (Hamming distance); `ClipIndex` holds L2-normalised
float vectors (inner product == cosine similarity). Each picks an exact flat index below a size
threshold and an inverted-file index above it, because exact search stays fast and perfectly
accurate up to a few hundred thousand entries while IVF keeps latency flat past millions.
Both index kinds support incremental add and `remove_ids` natively, which is why HNSW (no
removal) is not used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import faiss
import numpy as np

from factcheck.core.fingerprints import PDQ_BITS, PDQ_BYTES

MISSING_ID = -1
# Training IVF/PQ on more than this many samples costs build time without improving quality.
MAX_TRAINING_SAMPLES = 262_144
MIN_POINTS_PER_CENTROID = 39  # FAISS warns below this; k-means gets unstable


@dataclass(frozen=True)
class BinaryIndexConfig:
    """PDQ index parameters. `kind` "auto" means flat up to `flat_max_size`, IVF above."""

    kind: str = "auto"
    flat_max_size: int = 2_000_000
    nlist: int | None = None  # None: ~4*sqrt(n)
    nprobe: int = 64


@dataclass(frozen=True)
class FloatIndexConfig:
    """CLIP index parameters. Above `flat_max_size`: [OPQ +] IVF + PQ (`pq_m` bytes/vector)."""

    dim: int = 512
    kind: str = "auto"
    flat_max_size: int = 200_000
    nlist: int | None = None
    pq_m: int = 128
    use_opq: bool = True
    nprobe: int = 32
    use_gpu: bool = False


def _default_nlist(n: int) -> int:
    nlist = 4 * int(math.sqrt(max(n, 1)))
    nlist = min(nlist, max(1, n // MIN_POINTS_PER_CENTROID))
    return max(1, 1 << int(math.log2(nlist)))


def _training_sample(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    if len(vectors) <= MAX_TRAINING_SAMPLES:
        return vectors
    rng = np.random.default_rng(seed)
    return vectors[np.sort(rng.choice(len(vectors), MAX_TRAINING_SAMPLES, replace=False))]


def _as_ids(ids: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


class _IndexBase:
    kind: str
    index: Any
    config: Any

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Remove ids; returns how many entries were removed (unknown ids are ignored)."""
        return int(self.index.remove_ids(_as_ids(ids)))

    def needs_rebuild(self) -> bool:
        """True when a flat index has outgrown its threshold and should be rebuilt as IVF."""
        return (
            self.kind == "flat"
            and self.config.kind == "auto"
            and (len(self) > self.config.flat_max_size)
        )

    def params(self) -> dict[str, Any]:
        return {"index_type": self.kind, **asdict(self.config)}


class PdqIndex(_IndexBase):
    """Binary index over packed PDQ hashes; search returns Hamming distances (0..256)."""

    def __init__(self, index: faiss.IndexBinary, kind: str, config: BinaryIndexConfig) -> None:
        self.index = index
        self.kind = kind
        self.config = config

    @classmethod
    def build(
        cls, hashes: np.ndarray, ids: np.ndarray, config: BinaryIndexConfig | None = None
    ) -> PdqIndex:
        config = config or BinaryIndexConfig()
        hashes = _check_hashes(hashes)
        kind = config.kind
        if kind == "auto":
            kind = "flat" if len(hashes) <= config.flat_max_size else "ivf"
        if kind == "flat":
            index: faiss.IndexBinary = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(PDQ_BITS))
        elif kind == "ivf":
            nlist = config.nlist or _default_nlist(len(hashes))
            quantizer = faiss.IndexBinaryFlat(PDQ_BITS)
            index = faiss.IndexBinaryIVF(quantizer, PDQ_BITS, nlist)
            index.own_fields = True
            quantizer.this.disown()
            index.train(_training_sample(hashes))
            index.nprobe = config.nprobe
        else:
            raise ValueError(f"unknown binary index kind {kind!r}")
        built = cls(index, kind, config)
        if len(hashes):
            built.add(hashes, ids)
        return built

    def add(self, hashes: np.ndarray, ids: np.ndarray | list[int]) -> None:
        hashes, ids = _check_hashes(hashes), _as_ids(ids)
        if len(hashes) != len(ids):
            raise ValueError("hashes and ids differ in length")
        self.index.add_with_ids(hashes, ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, hamming distances), both (q, k); missing slots have id -1."""
        queries = _check_hashes(queries)
        if len(self) == 0:
            empty = np.full((len(queries), k), MISSING_ID, dtype=np.int64)
            return empty, np.full((len(queries), k), PDQ_BITS + 1, dtype=np.int32)
        distances, ids = self.index.search(queries, k)
        return ids.astype(np.int64), distances.astype(np.int32)

    def serialize(self) -> bytes:
        return faiss.serialize_index_binary(self.index).tobytes()

    @classmethod
    def deserialize(cls, blob: bytes, kind: str, config: BinaryIndexConfig) -> PdqIndex:
        index = faiss.deserialize_index_binary(np.frombuffer(blob, dtype=np.uint8))
        if kind == "ivf":
            index.nprobe = config.nprobe
        return cls(index, kind, config)


def _check_hashes(hashes: np.ndarray) -> np.ndarray:
    hashes = np.ascontiguousarray(np.asarray(hashes, dtype=np.uint8))
    if hashes.ndim == 1:
        hashes = hashes.reshape(1, -1)
    if hashes.ndim != 2 or hashes.shape[1] != PDQ_BYTES:
        raise ValueError(f"expected (n, {PDQ_BYTES}) packed hashes, got {hashes.shape}")
    return hashes


def best_distance_per_id(
    ids: np.ndarray, distances: np.ndarray, max_distance: int | None = None
) -> dict[int, int]:
    """Collapse the results of the 8 dihedral queries into the best (smallest) distance per id."""
    best: dict[int, int] = {}
    for ref_id, distance in zip(
        ids.reshape(-1).tolist(), distances.reshape(-1).tolist(), strict=True
    ):
        if ref_id == MISSING_ID or (max_distance is not None and distance > max_distance):
            continue
        if distance < best.get(ref_id, PDQ_BITS + 1):
            best[ref_id] = distance
    return dict(sorted(best.items(), key=lambda item: (item[1], item[0])))


class ClipIndex(_IndexBase):
    """Float index over L2-normalised embeddings; search returns cosine similarities."""

    def __init__(self, index: faiss.Index, kind: str, config: FloatIndexConfig) -> None:
        self.index = index
        self.kind = kind
        self.config = config
        self._search_index = _maybe_to_gpu(index, config)

    @classmethod
    def build(
        cls, vectors: np.ndarray, ids: np.ndarray, config: FloatIndexConfig | None = None
    ) -> ClipIndex:
        config = config or FloatIndexConfig()
        vectors = _check_vectors(vectors, config.dim)
        kind = config.kind
        if kind == "auto":
            kind = "flat" if len(vectors) <= config.flat_max_size else "ivfpq"
        if kind == "flat":
            index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(config.dim))
        elif kind == "ivfpq":
            index = faiss.index_factory(
                config.dim, _ivfpq_factory(config, len(vectors)), faiss.METRIC_INNER_PRODUCT
            )
            index.train(_training_sample(vectors))
            faiss.extract_index_ivf(index).nprobe = config.nprobe
        else:
            raise ValueError(f"unknown float index kind {kind!r}")
        built = cls(index, kind, config)
        if len(vectors):
            built.add(vectors, ids)
        return built

    def add(self, vectors: np.ndarray, ids: np.ndarray | list[int]) -> None:
        vectors, ids = _check_vectors(vectors, self.config.dim), _as_ids(ids)
        if len(vectors) != len(ids):
            raise ValueError("vectors and ids differ in length")
        self.index.add_with_ids(vectors, ids)
        self._search_index = _maybe_to_gpu(self.index, self.config)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        removed = super().remove(ids)
        self._search_index = _maybe_to_gpu(self.index, self.config)
        return removed

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine similarities), both (q, k), best first; missing slots have id -1."""
        queries = _check_vectors(queries, self.config.dim)
        if len(self) == 0:
            empty = np.full((len(queries), k), MISSING_ID, dtype=np.int64)
            return empty, np.full((len(queries), k), -np.inf, dtype=np.float32)
        similarities, ids = self._search_index.search(queries, k)
        return ids.astype(np.int64), similarities.astype(np.float32)

    def serialize(self) -> bytes:
        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def deserialize(cls, blob: bytes, kind: str, config: FloatIndexConfig) -> ClipIndex:
        index = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        if kind == "ivfpq":
            faiss.extract_index_ivf(index).nprobe = config.nprobe
        return cls(index, kind, config)


def _ivfpq_factory(config: FloatIndexConfig, n: int) -> str:
    nlist = config.nlist or _default_nlist(n)
    rotation = f"OPQ{config.pq_m}," if config.use_opq else ""
    return f"{rotation}IVF{nlist},PQ{config.pq_m}"


def _check_vectors(vectors: np.ndarray, dim: int) -> np.ndarray:
    vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if vectors.ndim == 1:
        vectors = vectors.reshape(1, -1)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected (n, {dim}) float vectors, got {vectors.shape}")
    return vectors


def _maybe_to_gpu(index: faiss.Index, config: FloatIndexConfig) -> faiss.Index:
    """A GPU copy for searching when configured and available; the CPU index stays the master
    copy for add/remove/serialise. Untested here (no GPU in CI); any failure falls back to CPU."""
    if not config.use_gpu or not hasattr(faiss, "get_num_gpus") or faiss.get_num_gpus() == 0:
        return index
    try:
        return faiss.index_cpu_to_all_gpus(index)
    except (RuntimeError, AttributeError):
        return index
