"""Synthetic-vector benchmarks of the reference indexes: build time, memory, latency, recall.

    python -m factcheck.evaluation.bench pdq --n 1000000
    python -m factcheck.evaluation.bench clip --n 1000000 --dim 512

PDQ: database hashes are uniform random bits; queries are database hashes with 0..MAX_FLIP
random bits flipped, the way a re-encoded copy drifts from its original. CLIP: real embeddings
are clustered on a low-dimensional manifold, so vectors are drawn from a Gaussian mixture on a
random low-rank subspace plus isotropic noise, then L2-normalised; queries are fresh draws from
the same distribution (not database members), which is the harder, honest setting for ANN.
Recall@10 is |approximate top-10 ∩ exact top-10| / 10 averaged over queries.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from factcheck.core.fingerprints import PDQ_BITS, PDQ_BYTES
from factcheck.core.index import BinaryIndexConfig, ClipIndex, FloatIndexConfig, PdqIndex

MAX_FLIP = 48  # a typical PDQ match threshold is 31..70 bits
SYNTHETIC_CLUSTERS = 2_000
SYNTHETIC_RANK = 64
DIHEDRAL_COUNT = 8


def synthetic_hashes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, PDQ_BYTES), dtype=np.uint8)


def flip_bits(hashes: np.ndarray, max_flip: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(hashes, axis=1)
    for row in bits:
        flip = rng.choice(PDQ_BITS, size=int(rng.integers(0, max_flip + 1)), replace=False)
        row[flip] ^= 1
    return np.packbits(bits, axis=1)


def synthetic_embeddings(n: int, dim: int, seed: int = 0, chunk: int = 200_000) -> np.ndarray:
    """Clustered, low-rank, normalised vectors (see module docstring)."""
    base = np.random.default_rng(12345)  # the mixture itself is shared by database and queries
    rank = min(SYNTHETIC_RANK, dim)
    basis = base.normal(size=(rank, dim)).astype(np.float32) / np.sqrt(rank)
    centers = base.normal(size=(SYNTHETIC_CLUSTERS, rank)).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        latent = centers[rng.integers(0, SYNTHETIC_CLUSTERS, size)]
        latent += 0.6 * rng.standard_normal((size, rank), dtype=np.float32)
        block = latent @ basis + 0.15 * rng.standard_normal((size, dim), dtype=np.float32)
        out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    hits = [
        len(set(a.tolist()) & set(e.tolist())) / exact.shape[1]
        for a, e in zip(approx, exact, strict=True)
    ]
    return float(np.mean(hits))


def _latency_ms(search: Any, queries: np.ndarray, k: int, batch: int) -> tuple[float, float]:
    timings = []
    for start in range(0, len(queries), batch):
        began = time.perf_counter()
        search(queries[start : start + batch], k)
        timings.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 95))


def recall_within(
    approx: np.ndarray, exact_ids: np.ndarray, exact_distances: np.ndarray, radius: int
) -> float:
    """Share of exact top-k neighbours within `radius` that the approximate search returned."""
    wanted = found = 0
    for got, ids, distances in zip(approx, exact_ids, exact_distances, strict=True):
        inside = set(ids[distances <= radius].tolist())
        wanted += len(inside)
        found += len(inside & set(got.tolist()))
    return found / wanted if wanted else 1.0


def bench_pdq(
    n: int, n_queries: int = 200, k: int = 10, config: BinaryIndexConfig | None = None
) -> dict[str, Any]:
    """Queries are searched one hash at a time and in batches of 8 distinct hashes the way the
    matcher sends the 8 dihedral hashes of one image: the first as posted (full radius), the
    other 7 as rotations/flips (`dihedral_radius` under MIH)."""
    config = config or BinaryIndexConfig()
    hashes = synthetic_hashes(n)
    ids = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(2)
    targets = rng.choice(n, size=n_queries, replace=False)
    queries = flip_bits(hashes[targets], MAX_FLIP)
    began = time.perf_counter()
    index = PdqIndex.build(hashes, ids, config)
    index.search(queries[:1], k)  # MIH builds its tables on first search
    build_s = time.perf_counter() - began
    found, _ = index.search(queries, k)
    exact = PdqIndex.build(hashes, ids, replace(config, kind="flat"))
    truth, truth_distances = exact.search(queries, k)
    del exact
    p50, p95 = _latency_ms(index.search, queries, k, batch=1)
    p50_8, p95_8 = _latency_ms(
        lambda batch, top: index.search(batch, top, primary=1), queries, k, DIHEDRAL_COUNT
    )
    radius = index.radius if index.radius is not None else PDQ_BITS
    memory = len(index.serialize()) + (index._mih.nbytes if index._mih is not None else 0)
    planted = np.unpackbits(queries ^ hashes[targets], axis=1).sum(axis=1)
    return {
        "index": "pdq",
        "n": n,
        "type": index.kind,
        "radius": index.radius,
        "dihedral_radius": index.dihedral_radius,
        "mih_bits": index.mih_bits if index.kind == "mih" else None,
        "build_s": round(build_s, 2),
        "memory_bytes_per_hash": round(memory / n, 1),
        "latency_ms_p50_1_hash": round(p50, 3),
        "latency_ms_p95_1_hash": round(p95, 3),
        "latency_ms_p50_8_hashes": round(p50_8, 3),
        "latency_ms_p95_8_hashes": round(p95_8, 3),
        "recall_at_1_planted": float(np.mean(found[:, 0] == targets)),
        "planted_within_radius": float(np.mean(planted <= radius)),
        "recall_at_10_vs_exact": recall_at_k(found, truth),
        "recall_at_10_vs_exact_within_radius": recall_within(found, truth, truth_distances, radius),
    }


def bench_clip(
    n: int,
    dim: int = 512,
    n_queries: int = 200,
    k: int = 10,
    config: FloatIndexConfig | None = None,
) -> dict[str, Any]:
    """Also measures the exact re-ranking path: the full-precision vectors are read from a
    memory-mapped file on disk (deployments read them from the database), never held by the
    index, so `bytes_per_vector` stays the index's own size."""
    config = config or FloatIndexConfig(dim=dim)
    vectors = synthetic_embeddings(n, dim)
    queries = synthetic_embeddings(n_queries, dim, seed=99)
    ids = np.arange(n, dtype=np.int64)
    began = time.perf_counter()
    index = ClipIndex.build(vectors, ids, config)
    build_s = time.perf_counter() - began
    exact = ClipIndex.build(vectors, ids, replace(config, kind="flat"))
    truth, _ = exact.search(queries, k)
    del exact
    with tempfile.TemporaryDirectory() as folder:
        stored = Path(folder) / "vectors.npy"
        np.save(stored, vectors)
        del vectors
        on_disk = np.load(stored, mmap_mode="r")

        def exact_vectors(wanted: list[int]) -> dict[int, np.ndarray]:
            rows = np.asarray(on_disk[np.asarray(wanted, dtype=np.int64)])
            return dict(zip(wanted, rows, strict=True))

        found, _ = index.search(queries, k)
        reranked, _ = index.search(queries, k, exact_vectors)
        p50, p95 = _latency_ms(index.search, queries, k, batch=1)
        r50, r95 = _latency_ms(
            lambda batch, top: index.search(batch, top, exact_vectors), queries, k, batch=1
        )
    return {
        "index": "clip",
        "n": n,
        "dim": dim,
        "type": index.kind,
        "params": index.params(),
        "build_s": round(build_s, 2),
        "bytes_per_vector": round(len(index.serialize()) / n, 1),
        "latency_ms_p50": round(p50, 3),
        "latency_ms_p95": round(p95, 3),
        "recall_at_10_vs_exact": recall_at_k(found, truth),
        "latency_ms_p50_reranked": round(r50, 3),
        "latency_ms_p95_reranked": round(r95, 3),
        "recall_at_10_vs_exact_reranked": recall_at_k(reranked, truth),
        "nn_in_top10": float(np.mean([t[0] in f for t, f in zip(truth, found, strict=True)])),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["pdq", "clip"])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kind", default="auto")
    parser.add_argument("--nprobe", type=int, default=None)
    parser.add_argument("--pca-dim", type=int, default=None)
    parser.add_argument("--scalar", default=None, help="faiss scalar quantizer, e.g. SQ8, SQ6")
    parser.add_argument("--rerank-factor", type=int, default=None)
    parser.add_argument("--mih-bits", type=int, default=None)
    parser.add_argument("--mih-flips", type=int, default=None)
    args = parser.parse_args(argv)
    if args.which == "pdq":
        bconfig = BinaryIndexConfig(kind=args.kind)
        if args.nprobe:
            bconfig = replace(bconfig, nprobe=args.nprobe)
        if args.mih_bits:
            bconfig = replace(bconfig, mih_bits=args.mih_bits)
        if args.mih_flips is not None:
            bconfig = replace(bconfig, mih_flips=args.mih_flips)
        result = bench_pdq(args.n, args.queries, config=bconfig)
    else:
        fconfig = FloatIndexConfig(dim=args.dim, kind=args.kind)
        if args.nprobe:
            fconfig = replace(fconfig, nprobe=args.nprobe)
        if args.pca_dim:
            fconfig = replace(fconfig, pca_dim=args.pca_dim)
        if args.scalar:
            fconfig = replace(fconfig, scalar=args.scalar)
        if args.rerank_factor:
            fconfig = replace(fconfig, rerank_factor=args.rerank_factor)
        result = bench_clip(args.n, args.dim, args.queries, config=fconfig)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
