"""FAISS indexes for reference fingerprints, keyed by int64 reference id.

`PdqIndex` holds packed 256-bit PDQ hashes (Hamming distance); `ClipIndex` holds L2-normalised
float vectors (inner product == cosine similarity). Each holds an exact flat index up to a size
threshold, because exact search stays fast and perfectly accurate up to a few hundred thousand
entries, and is rebuilt past it as what keeps latency flat past millions: multi-index hashing
for PDQ (`mih`, exact within a Hamming radius), PCA + IVF + SQ8 for the float vectors. Both
support incremental add and `remove_ids` natively, which is why HNSW (no removal) is not used.

A published index is read memory-mapped (`read`, factcheck.core.faiss_io.MMAP_FLAGS): the
worker processes of a machine share one copy in the page cache. Such an index is read-only
(`ReadOnlyIndexError`): FAISS aborts the process when a mapped vector is resized, so add and
remove refuse first.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

import faiss
import numpy as np

from factcheck.core.faiss_io import empty_trained_copy, index_row_ids, read_index_file
from factcheck.core.fingerprints import PDQ_BITS, PDQ_BYTES
from factcheck.core.mih import MultiIndexHash

MISSING_ID = -1
# Training IVF/PQ on more than this many samples costs build time without improving quality.
MAX_TRAINING_SAMPLES = 262_144
MIN_POINTS_PER_CENTROID = 39  # FAISS warns below this; k-means gets unstable
# An inverted file is retrained once the collection would deserve this many times its lists
# (lists ~4*sqrt(n): about 4x the entries it was trained for).
IVF_RETRAIN_GROWTH = 2
# Vectors handed to FAISS per add call: a PCA pre-transform copies what it is given, so adding
# 10M embeddings at once would hold a second 10M x pca_dim float32 copy.
ADD_BATCH = 65_536


MIH_BITS = 20
MIH_WIDE_BITS = 24
MIH_WIDE_FROM = 4_000_000  # hashes; above this 24-bit substrings keep buckets near one hash


@dataclass(frozen=True)
class BinaryIndexConfig:
    """PDQ index parameters. `kind` "auto" means exact flat search up to `flat_max_size` and
    multi-index hashing ("mih", exact within its radius, see factcheck.core.mih) above; "ivf" is
    available but recalls poorly on PDQ's near-uniform bits."""

    kind: str = "auto"
    # Exact search costs ~2 ms per hash at 1M on one core, 16 ms for a query's 8 dihedral
    # hashes; MIH answers those 8 in ~3 ms (docs/benchmarks.md), so flat stops at 200k.
    flat_max_size: int = 200_000
    nlist: int | None = None  # None: ~4*sqrt(n)
    nprobe: int = 64
    # MIH: 256 // bits substring tables probed up to mih_flips flips; exact within radius
    # (256 // bits) * (mih_flips + 1) - 1. bits = mih_bits, or by size when None: about one
    # hash per bucket keeps probes cheap (20 bits up to MIH_WIDE_FROM hashes: 12 tables, radius
    # 47; 24 bits above: 10 tables, radius 39).
    mih_bits: int | None = None
    mih_flips: int = 3
    # The 7 rotated/flipped hashes of a query (`search(..., primary=1)`) are searched with fewer
    # flips: radius 35 (20 bits) or 29 (24 bits), near PDQ's usual match threshold of 31, for
    # a fraction of the probes.
    mih_dihedral_flips: int = 2


@dataclass(frozen=True)
class FloatIndexConfig:
    """CLIP index parameters. Above `flat_max_size` ("auto"): "ivfsq" = PCA rotation to
    `pca_dim` + IVF + scalar quantizer (`pca_dim` bytes/vector with SQ8), which measured better
    than OPQ + IVF + PQ within 300 bytes/vector (docs/benchmarks.md)."""

    dim: int = 512
    kind: str = "auto"
    flat_max_size: int = 200_000
    nlist: int | None = None
    pca_dim: int | None = 256
    scalar: str = "SQ8"
    nprobe: int = 32
    rerank_factor: int = 5  # candidates per result re-ranked exactly when vectors are given
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


class ReadOnlyIndexError(RuntimeError):
    """A memory-mapped (published) index was asked to change."""


class _IndexBase:
    kind: str
    index: Any
    config: Any
    read_only = False  # True when memory-mapped from a published file

    def __len__(self) -> int:
        return int(self.index.ntotal)

    binary = False  # a faiss.IndexBinary (PDQ), read and written by the binary functions

    def serialize(self) -> bytes:
        serialize = faiss.serialize_index_binary if self.binary else faiss.serialize_index
        serialized: bytes = serialize(self.index).tobytes()
        return serialized

    def write(self, path: str) -> None:
        (faiss.write_index_binary if self.binary else faiss.write_index)(self.index, path)

    @classmethod
    def deserialize(cls, blob: bytes, kind: str, config: Any) -> Any:
        read = faiss.deserialize_index_binary if cls.binary else faiss.deserialize_index
        return cls._loaded(read(np.frombuffer(blob, dtype=np.uint8)), kind, config)

    @classmethod
    def read(cls, path: str, kind: str, config: Any, *, mmap: bool) -> Any:
        """Open a published file, memory-mapped (shared, read-only) or as a private copy."""
        loaded = cls._loaded(read_index_file(path, binary=cls.binary, mmap=mmap), kind, config)
        loaded.read_only = mmap
        return loaded

    @classmethod
    def _loaded(cls, index: Any, kind: str, config: Any) -> Any:
        raise NotImplementedError

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyIndexError("a memory-mapped index cannot change; publish a delta")

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Remove ids; returns how many entries were removed (unknown ids are ignored)."""
        self._check_writable()
        return int(self.index.remove_ids(_as_ids(ids)))

    def needs_rebuild(self, count: int | None = None) -> bool:
        """True when the index should be rebuilt from scratch once it holds `count` entries
        (default: what it holds): a flat index that outgrew its threshold (to become MIH / IVF),
        or an inverted file whose coarse quantizer was trained for a much smaller collection
        (its lists grow long and every probe slows down)."""
        count = len(self) if count is None else count
        if self.kind == "flat":
            return self.config.kind == "auto" and count > int(self.config.flat_max_size)
        nlist = self.trained_nlist()
        return nlist is not None and _default_nlist(count) >= IVF_RETRAIN_GROWTH * nlist

    def row_ids(self) -> np.ndarray:
        """The id of every entry (one per entry, in storage order)."""
        return index_row_ids(self.index)

    def _empty_trained(self) -> Any:
        """A copy of this (trained) inverted-file index without entries, for a delta."""
        return empty_trained_copy(self.index)

    def trained_nlist(self) -> int | None:
        """The inverted file's list count, None for an index without one."""
        if hasattr(self.index, "nlist"):  # IndexBinaryIVF, or an IVF index itself
            return int(self.index.nlist)
        try:
            return int(faiss.extract_index_ivf(self.index).nlist)
        except (RuntimeError, TypeError):  # no inverted file inside (flat, MIH's flat master)
            return None

    def params(self) -> dict[str, Any]:
        return {"index_type": self.kind, **asdict(self.config)}


class PdqIndex(_IndexBase):
    """Binary index over packed PDQ hashes; search returns Hamming distances (0..256).

    Kind "mih" keeps the flat faiss index as the master copy (add, remove and serialisation
    are the flat ones) and searches a MultiIndexHash built from it on first use, or mapped from
    the tables the writer published with it (`write_mih`, `use_mih_file`), so the worker
    processes of a machine share one copy.
    """

    binary = True

    def __init__(self, index: faiss.IndexBinary, kind: str, config: BinaryIndexConfig) -> None:
        self.index = index
        self.kind = kind
        self.config = config
        self._mih: MultiIndexHash | None = None
        self._mih_lock = threading.Lock()

    @property
    def mih_bits(self) -> int:
        return self._mih_bits_for(len(self))

    def _mih_bits_for(self, count: int) -> int:
        if self.config.mih_bits is not None:
            return int(self.config.mih_bits)
        return MIH_BITS if count <= MIH_WIDE_FROM else MIH_WIDE_BITS

    def needs_rebuild(self, count: int | None = None) -> bool:
        """Also when multi-index hashing would pick other substrings at `count` hashes."""
        count = len(self) if count is None else count
        if self.kind == "mih" and self._mih_bits_for(count) != self.mih_bits:
            return True
        return super().needs_rebuild(count)

    @property
    def radius(self) -> int | None:
        """Distance within which search is exact and beyond which nothing is returned (MIH);
        None when unlimited. Rotated/flipped query hashes use `dihedral_radius`."""
        return self._radius(self.config.mih_flips)

    @property
    def dihedral_radius(self) -> int | None:
        return self._radius(min(self.config.mih_dihedral_flips, self.config.mih_flips))

    def _radius(self, flips: int) -> int | None:
        return None if self.kind != "mih" else (PDQ_BITS // self.mih_bits) * (flips + 1) - 1

    @classmethod
    def build(
        cls, hashes: np.ndarray, ids: np.ndarray, config: BinaryIndexConfig | None = None
    ) -> PdqIndex:
        config = config or BinaryIndexConfig()
        hashes = _check_hashes(hashes)
        kind = config.kind
        if kind == "auto":
            kind = "flat" if len(hashes) <= config.flat_max_size else "mih"
        if kind in ("flat", "mih"):
            index: faiss.IndexBinary = _binary_flat()
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
        self._check_writable()
        hashes, ids = _check_hashes(hashes), _as_ids(ids)
        if len(hashes) != len(ids):
            raise ValueError("hashes and ids differ in length")
        self.index.add_with_ids(hashes, ids)
        self._mih = None

    def empty_like(self) -> PdqIndex:
        """An empty index searched like this one, for the rows of a delta: flat for flat and
        MIH (a delta stays small; its reader applies the base's radius), else the same trained
        inverted file."""
        if self.kind in ("flat", "mih"):
            return PdqIndex(_binary_flat(), "flat", self.config)
        return PdqIndex._loaded(self._empty_trained(), self.kind, self.config)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        removed = super().remove(ids)
        self._mih = None
        return removed

    def search(
        self, queries: np.ndarray, k: int, primary: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, hamming distances), both (q, k); missing slots have id -1. With `primary`, only
        the first `primary` queries get the full radius and the rest `dihedral_radius` (MIH;
        flat search is exact at any distance)."""
        queries = _check_hashes(queries)
        if len(self) == 0:
            empty = np.full((len(queries), k), MISSING_ID, dtype=np.int64)
            return empty, np.full((len(queries), k), PDQ_BITS + 1, dtype=np.int32)
        if self.kind == "mih":
            mih = self._multi_index_hash()
            if primary is None or primary >= len(queries):
                return mih.search(queries, k)
            wide = mih.search(queries[:primary], k)
            narrow = mih.search(queries[primary:], k, flips=self.config.mih_dihedral_flips)
            return np.vstack([wide[0], narrow[0]]), np.vstack([wide[1], narrow[1]])
        distances, ids = self.index.search(queries, k)
        return ids.astype(np.int64), distances.astype(np.int32)

    def _multi_index_hash(self) -> MultiIndexHash:
        with self._mih_lock:
            if self._mih is None:
                flat = faiss.downcast_IndexBinary(self.index.index)
                codes = faiss.vector_to_array(flat.xb).reshape(-1, PDQ_BYTES)
                ids = faiss.vector_to_array(self.index.id_map)
                self._mih = MultiIndexHash(
                    codes, ids, bits=self.mih_bits, flips=self.config.mih_flips
                )
            return self._mih

    def write_mih(self, file: BinaryIO) -> None:
        """The multi-index hash structure of a "mih" index, for readers to map
        (`use_mih_file`) instead of each building its own."""
        self._multi_index_hash().write(file)

    def use_mih_file(self, path: str) -> None:
        """Search with the structure `write_mih` wrote for this same index, memory-mapped."""
        tables = MultiIndexHash.from_file(path)
        if (tables.bits, tables.flips, len(tables)) != (
            self.mih_bits,
            self.config.mih_flips,
            len(self),
        ):
            raise ValueError(f"{path} was not built for this index and its parameters")
        with self._mih_lock:
            self._mih = tables

    @classmethod
    def _loaded(cls, index: faiss.IndexBinary, kind: str, config: BinaryIndexConfig) -> PdqIndex:
        if kind == "ivf":
            index.nprobe = config.nprobe
        return cls(index, kind, config)


def _binary_flat() -> faiss.IndexBinary:
    # IDMap, not IDMap2: IDMap2's id -> position hash map costs ~40 bytes per hash in every
    # reader and nothing here reconstructs by id.
    return faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(PDQ_BITS))


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
            kind = "flat" if len(vectors) <= config.flat_max_size else "ivfsq"
        if kind == "flat":
            index: faiss.Index = faiss.IndexIDMap(faiss.IndexFlatIP(config.dim))
        elif kind in FLOAT_FACTORIES:
            factory = FLOAT_FACTORIES[kind](config, len(vectors))
            index = faiss.index_factory(config.dim, factory, faiss.METRIC_INNER_PRODUCT)
            index.train(_training_sample(vectors))
            faiss.extract_index_ivf(index).nprobe = config.nprobe
        else:
            raise ValueError(f"unknown float index kind {kind!r}")
        built = cls(index, kind, config)
        if len(vectors):
            built.add(vectors, ids)
        return built

    def add(self, vectors: np.ndarray, ids: np.ndarray | list[int]) -> None:
        self._check_writable()
        vectors, ids = _check_vectors(vectors, self.config.dim), _as_ids(ids)
        if len(vectors) != len(ids):
            raise ValueError("vectors and ids differ in length")
        for start in range(0, len(vectors), ADD_BATCH):
            end = start + ADD_BATCH
            self.index.add_with_ids(vectors[start:end], ids[start:end])
        self._search_index = _maybe_to_gpu(self.index, self.config)

    def empty_like(self) -> ClipIndex:
        """An empty index with this one's structure (and training), for the rows of a delta."""
        if self.kind == "flat":
            flat = faiss.IndexIDMap(faiss.IndexFlatIP(self.config.dim))
            return ClipIndex(flat, "flat", self.config)
        return ClipIndex._loaded(self._empty_trained(), self.kind, self.config)

    def remove(self, ids: np.ndarray | list[int]) -> int:
        removed = super().remove(ids)
        self._search_index = _maybe_to_gpu(self.index, self.config)
        return removed

    def search(
        self, queries: np.ndarray, k: int, exact_vectors: ExactVectors | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine similarities), both (q, k), best first; missing slots have id -1.

        With `exact_vectors` (the full-precision embeddings, e.g. from the database), a
        compressed index returns `rerank_factor * k` candidates re-ranked exactly, which
        recovers most of what quantisation loses while the index stays small in memory.
        """
        queries = _check_vectors(queries, self.config.dim)
        if len(self) == 0:
            empty = np.full((len(queries), k), MISSING_ID, dtype=np.int64)
            return empty, np.full((len(queries), k), -np.inf, dtype=np.float32)
        rerank = exact_vectors is not None and self.kind != "flat" and self.config.rerank_factor > 1
        fetch = k * self.config.rerank_factor if rerank else k
        similarities, ids = self._search_index.search(queries, fetch)
        if rerank:
            assert exact_vectors is not None
            return _rerank(queries, ids.astype(np.int64), exact_vectors, k)
        return ids.astype(np.int64), similarities.astype(np.float32)

    @classmethod
    def _loaded(cls, index: faiss.Index, kind: str, config: FloatIndexConfig) -> ClipIndex:
        if kind in FLOAT_FACTORIES:
            faiss.extract_index_ivf(index).nprobe = config.nprobe
        return cls(index, kind, config)


def _ivfsq_factory(config: FloatIndexConfig, n: int) -> str:
    nlist = config.nlist or _default_nlist(n)
    # PCAR: PCA then a random rotation, so the scalar quantizer's error spreads evenly.
    pca = f"PCAR{config.pca_dim}," if config.pca_dim and config.pca_dim < config.dim else ""
    return f"{pca}IVF{nlist},{config.scalar}"


FLOAT_FACTORIES = {"ivfsq": _ivfsq_factory}


ExactVectors = Callable[[list[int]], dict[int, np.ndarray]]


def _rerank(
    queries: np.ndarray, candidates: np.ndarray, exact_vectors: ExactVectors, k: int
) -> tuple[np.ndarray, np.ndarray]:
    wanted = sorted({int(i) for i in candidates.reshape(-1) if i != MISSING_ID})
    vectors = exact_vectors(wanted)
    ids = np.full((len(queries), k), MISSING_ID, np.int64)
    similarities = np.full((len(queries), k), -np.inf, np.float32)
    for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
        known = [int(i) for i in found if int(i) in vectors]  # removed meanwhile: skipped
        if not known:
            continue
        scores = np.stack([vectors[i] for i in known]) @ query
        order = np.argsort(-scores, kind="stable")[:k]
        ids[row, : len(order)] = np.asarray(known)[order]
        similarities[row, : len(order)] = scores[order]
    return ids, similarities


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
