"""Which SIMD kernels FAISS runs here, and what each level costs (issue 15).

    python scripts/bench_faiss_simd.py [--hashes 1000000] [--vectors 200000] [--queries 64]

faiss-cpu >= 1.13 is one library with dynamic dispatch ("DD" in its compile options): it picks
the best instruction set the CPU has at run time. Its loader still tries the older per-level
modules first and logs "Could not load library with AVX2 support" when they are absent, which
says nothing about the kernels in use. This prints the dispatched level and times exact PDQ
Hamming search and exact inner-product search at every level this CPU supports, in one run
(ratios to the generic kernels), on one thread.
"""

from __future__ import annotations

import argparse
import json
import time

import faiss
import numpy as np

LEVELS = ("NONE", "AVX2", "AVX512", "AVX512_VPOPCNT")


def _timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 256, (args.hashes, 32), dtype=np.uint8)
    hash_queries = hashes[: args.queries].copy()
    binary = faiss.IndexBinaryFlat(256)
    binary.add(hashes)
    vectors = rng.standard_normal((args.vectors, args.dim)).astype(np.float32)
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(vectors)
    vector_queries = vectors[: args.queries].copy()
    config = faiss.SIMDConfig
    result = {
        "compile_options": faiss.get_compile_options(),
        "dispatched_level": config.get_level_name(),
        "hashes": args.hashes,
        "vectors": args.vectors,
        "dim": args.dim,
        "queries": args.queries,
        "levels": {},
    }
    dispatched = config.get_level()
    levels = {
        name: getattr(faiss, f"SIMDLevel_{name}")
        for name in LEVELS
        if config.is_simd_level_available(getattr(faiss, f"SIMDLevel_{name}"))
    }
    best: dict[str, list[float]] = {name: [np.inf, np.inf] for name in levels}
    for _ in range(args.repeats):  # levels interleaved, so a noisy moment hits them all
        for name, level in levels.items():
            config.set_level(level)
            best[name][0] = min(best[name][0], _timed(lambda: binary.search(hash_queries, 10)))
            best[name][1] = min(best[name][1], _timed(lambda: flat.search(vector_queries, 10)))
    config.set_level(dispatched)
    for name, (pdq, ip) in best.items():
        result["levels"][name] = {
            "pdq_ms_per_query": round(pdq * 1000 / args.queries, 3),
            "float_ms_per_query": round(ip * 1000 / args.queries, 3),
        }
    generic = result["levels"]["NONE"]
    for figures in result["levels"].values():
        figures["pdq_speedup"] = round(generic["pdq_ms_per_query"] / figures["pdq_ms_per_query"], 2)
        figures["float_speedup"] = round(
            generic["float_ms_per_query"] / figures["float_ms_per_query"], 2
        )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
