"""Synthetic-vector benchmarks of the reference indexes: build time, memory, latency, recall.

    python -m factcheck.core.bench pdq --n 1000000
    python -m factcheck.core.bench clip --n 1000000 --dim 512

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
import time
from dataclasses import replace
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


def bench_pdq(
    n: int, n_queries: int = 200, k: int = 10, config: BinaryIndexConfig | None = None
) -> dict[str, Any]:
    config = config or BinaryIndexConfig()
    hashes = synthetic_hashes(n)
    ids = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(2)
    targets = rng.choice(n, size=n_queries, replace=False)
    queries = flip_bits(hashes[targets], MAX_FLIP)
    began = time.perf_counter()
    index = PdqIndex.build(hashes, ids, config)
    build_s = time.perf_counter() - began
    exact = PdqIndex.build(hashes, ids, replace(config, kind="flat"))
    found, _ = index.search(queries, k)
    truth, _ = exact.search(queries, k)
    dihedral = np.repeat(queries, DIHEDRAL_COUNT, axis=0)  # 8 hashes per query, as the matcher
    p50, p95 = _latency_ms(index.search, queries, k, batch=1)
    p50_8, p95_8 = _latency_ms(index.search, dihedral, k, batch=DIHEDRAL_COUNT)
    return {
        "index": "pdq",
        "n": n,
        "type": index.kind,
        "build_s": round(build_s, 2),
        "bytes_per_vector": round(len(index.serialize()) / n, 1),
        "latency_ms_p50": round(p50, 3),
        "latency_ms_p95": round(p95, 3),
        "latency_ms_p50_8_dihedral": round(p50_8, 3),
        "latency_ms_p95_8_dihedral": round(p95_8, 3),
        "recall_at_1_planted": float(np.mean(found[:, 0] == targets)),
        "recall_at_10_vs_exact": recall_at_k(found, truth),
    }


def bench_clip(
    n: int,
    dim: int = 512,
    n_queries: int = 200,
    k: int = 10,
    config: FloatIndexConfig | None = None,
) -> dict[str, Any]:
    config = config or FloatIndexConfig(dim=dim)
    vectors = synthetic_embeddings(n, dim)
    queries = synthetic_embeddings(n_queries, dim, seed=99)
    ids = np.arange(n, dtype=np.int64)
    began = time.perf_counter()
    index = ClipIndex.build(vectors, ids, config)
    build_s = time.perf_counter() - began
    exact = ClipIndex.build(vectors, ids, replace(config, kind="flat"))
    truth, _ = exact.search(queries, k)
    del exact, vectors
    found, _ = index.search(queries, k)
    p50, p95 = _latency_ms(index.search, queries, k, batch=1)
    return {
        "index": "clip",
        "n": n,
        "dim": dim,
        "type": index.kind,
        "build_s": round(build_s, 2),
        "bytes_per_vector": round(len(index.serialize()) / n, 1),
        "latency_ms_p50": round(p50, 3),
        "latency_ms_p95": round(p95, 3),
        "recall_at_10_vs_exact": recall_at_k(found, truth),
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
    parser.add_argument("--pq-m", type=int, default=None)
    parser.add_argument("--no-opq", action="store_true")
    args = parser.parse_args(argv)
    if args.which == "pdq":
        bconfig = BinaryIndexConfig(kind=args.kind)
        if args.nprobe:
            bconfig = replace(bconfig, nprobe=args.nprobe)
        result = bench_pdq(args.n, args.queries, config=bconfig)
    else:
        fconfig = FloatIndexConfig(dim=args.dim, kind=args.kind)
        if args.nprobe:
            fconfig = replace(fconfig, nprobe=args.nprobe)
        if args.pq_m:
            fconfig = replace(fconfig, pq_m=args.pq_m)
        if args.no_opq:
            fconfig = replace(fconfig, use_opq=False)
        result = bench_clip(args.n, args.dim, args.queries, config=fconfig)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
