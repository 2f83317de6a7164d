"""Candidates for temporal matching from the video frame index, at 10k and 100k reference videos
(issue 17).

    python scripts/bench_video_index.py [--videos 10000 100000] [--shots 30] [--frames 1500]
        [--queries 30] [--bits 16 40] [--candidates 8] [--pairs 20] [--primary N] [--dir DIR]

Offline and SYNTHETIC: no video is decoded. A reference video is `--frames` frames (60 s at
25 fps) in `--shots` shots; a frame is its shot's random PDQ hash with up to 6 bits of drift, so
the production thinning (factcheck.core.video_candidates.indexed_frames, checked on one video
here) keeps one row per shot. The index rows (one per shot, id = the video) are generated
directly, published with the production writer (factcheck.core.index_store.save_index, the
production PDQ parameters: flat up to 200k rows, multi-index hashing above) and read by a child
process through IndexStore (memory-mapped), as an analyze worker reads them.

A query is a 20-s excerpt of a random reference (its frames with `--bits` random bits flipped
per frame, a re-encoding; mirrored hashes random), whose rows and hashes are chosen by the
production `query_rows` / `query_hashes`; the candidate stage is `frame_votes` with the
production distance (match_distance 64 + FRAME_THIN_DISTANCE) and radii (the hashes as posted
the full radius, mirrored ones the narrower one; `--primary 100000` gives every hash the full
radius, for comparison). A still query is one reference
frame with `--bits` flipped plus 7 random dihedral hashes, looked up as `still_video_candidates`
does. Prints one JSON document:

- `build_s`, `index_mb` (files on disk), `rows`, `kind` (flat / mih);
- `reader_mb`: the child's resident memory after loading and searching, minus before
  (/proc/self/smaps_rollup: Rss, Pss, Private; the mapped files are Shared between workers);
- `video_ms` / `still_ms`: candidate-stage latency p50/p95 per query;
- `recall`: share of queries whose source is among the top `--candidates` (per `--bits`);
- `scan`: what the exact scan it replaces cost: `video_match` per (query, unrelated reference)
  pair measured on `--pairs` pairs, times the collection size (extrapolated), and the old
  per-process cache of every fingerprint (4 hashes + 4 columns, 160 bytes per frame: computed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import faiss
import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_DIR)]  # factcheck.core is Django-free: no settings needed

from measure import memory_mb, percentiles_ms  # noqa: E402  (this folder is on sys.path)

from factcheck.core.index import PdqIndex, best_distance_per_id  # noqa: E402
from factcheck.core.index_store import IndexStore, save_index  # noqa: E402
from factcheck.core.video_candidates import (  # noqa: E402
    FRAME_THIN_DISTANCE,
    frame_votes,
    indexed_frames,
    query_hashes,
    query_rows,
)
from factcheck.core.video_fingerprint import FrameHashes, fingerprint_from_hashes  # noqa: E402
from factcheck.core.video_match import DEFAULT_CONFIG, video_match  # noqa: E402

NAME = "video_frames"
FPS = 25.0
DRIFT_BITS = 6  # within a shot, frames are this close to the shot's hash
QUERY_SECONDS = 20.0
MB = 1024 * 1024


def flip(hashes: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """Each row with `bits` random bits flipped."""
    if bits == 0:
        return hashes.copy()
    unpacked = np.unpackbits(hashes, axis=1)
    columns = np.argsort(rng.random((len(hashes), 256)), axis=1)[:, :bits]
    np.bitwise_xor.at(unpacked, (np.arange(len(hashes))[:, None], columns), 1)
    return np.packbits(unpacked, axis=1)


def shot_hashes(video: int, shots: int, seed: int) -> np.ndarray:
    """The shots' hashes of reference video `video` (what the index keeps of it)."""
    rng = np.random.default_rng([seed, video])
    return rng.integers(0, 256, (shots, 32), dtype=np.uint8)


def frames_of(
    shots: np.ndarray, frames: int, rng: np.random.Generator, noise_bits: int = 0
) -> FrameHashes:
    """A whole video: each shot's frames drifting up to DRIFT_BITS from its hash, plus
    `noise_bits` of re-encoding per frame."""
    per_shot = frames // len(shots)
    base = np.repeat(shots, per_shot, axis=0)
    drift = rng.integers(0, DRIFT_BITS + 1)
    hashes = flip(flip(base, int(drift), rng), noise_bits, rng)
    count = len(hashes)
    return FrameHashes(
        frame_numbers=np.arange(count, dtype=np.int64),
        times_s=np.arange(count, dtype=np.float64) / FPS,
        qualities=np.full(count, 100, np.int64),
        hashes=hashes,
        mirrored=rng.integers(0, 256, (count, 32), dtype=np.uint8),
        content=hashes.copy(),
        content_mirrored=None,
    )


def build(directory: Path, videos: int, shots: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    hashes = np.empty((videos * shots, 32), np.uint8)
    for video in range(videos):
        hashes[video * shots : (video + 1) * shots] = shot_hashes(video, shots, seed)
    ids = np.repeat(np.arange(videos, dtype=np.int64), shots)
    index = PdqIndex.build(hashes, ids)
    manifest = save_index(directory, NAME, index)
    size = sum(path.stat().st_size for path in directory.glob(f"{NAME}.v*"))
    return {
        "rows": int(manifest.count),
        "kind": index.kind,
        "build_s": round(time.perf_counter() - started, 1),
        "index_mb": round(size / MB, 1),
    }


def reader(directory: str, args: dict[str, Any], videos: int, pipe: Connection) -> None:
    """An analyze worker's view: the published index memory-mapped, the candidate stage timed."""
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(args["seed"] + 1)
    before = memory_mb()
    index = IndexStore(directory, NAME).get()
    assert isinstance(index, PdqIndex)  # a base without deltas
    distance = DEFAULT_CONFIG.match_distance + FRAME_THIN_DISTANCE
    still_distance = DEFAULT_CONFIG.frame_distance + FRAME_THIN_DISTANCE
    query_frames = int(QUERY_SECONDS * FPS)
    video_ms: dict[int, list[float]] = {}
    still_ms: list[float] = []
    recall: dict[str, float] = {}
    for bits in args["bits"]:
        timings, found, still_found = [], 0, 0
        for _ in range(args["queries"]):
            target = int(rng.integers(videos))
            shots = shot_hashes(target, args["shots"], args["seed"])
            whole = frames_of(shots, args["frames"], rng, noise_bits=bits)
            start = int(rng.integers(0, args["frames"] - query_frames))
            excerpt = whole.take(np.arange(start, start + query_frames))
            started = time.perf_counter()
            rows = query_rows(excerpt, DEFAULT_CONFIG.min_quality)
            hashes, owners = query_hashes(excerpt, rows)
            votes = frame_votes(
                index, hashes, owners, max_distance=distance, primary=args["primary"] or len(rows)
            )
            timings.append(time.perf_counter() - started)
            found += target in list(votes)[: args["candidates"]]
            frame = flip(shots[:1], bits, rng)
            dihedral = np.vstack([frame, rng.integers(0, 256, (7, 32), dtype=np.uint8)])
            started = time.perf_counter()
            ids, distances = index.search(dihedral, 32, primary=1)
            best = best_distance_per_id(ids, distances, still_distance)
            still_ms.append(time.perf_counter() - started)
            still_found += target in list(best)[: args["candidates"]]
        video_ms[bits] = timings
        recall[f"video_bits_{bits}"] = round(found / args["queries"], 3)
        recall[f"still_bits_{bits}"] = round(still_found / args["queries"], 3)
    after = memory_mb()
    pipe.send(
        {
            "reader_mb": {key: round(after[key] - before.get(key, 0.0), 1) for key in after},
            "video_ms": {
                f"bits_{bits}": percentiles_ms(timings) for bits, timings in video_ms.items()
            },
            "still_ms": percentiles_ms(still_ms),
            "recall": recall,
        }
    )


def scan_cost(args: dict[str, Any], videos: int) -> dict[str, Any]:
    """The exact scan's cost per reference: `video_match` of a query excerpt against an
    unrelated reference (what almost every pair of a scan is), and its cached fingerprint."""
    rng = np.random.default_rng(args["seed"] + 2)
    query_frames = int(QUERY_SECONDS * FPS)
    query = fingerprint_from_hashes(
        frames_of(shot_hashes(10**9, args["shots"], args["seed"]), args["frames"], rng).take(
            np.arange(query_frames)
        ),
        fps=FPS,
        duration_s=QUERY_SECONDS,
    )
    timings = []
    for pair in range(args["pairs"]):
        shots = shot_hashes(10**9 + 1 + pair, args["shots"], args["seed"])
        reference = fingerprint_from_hashes(
            frames_of(shots, args["frames"], rng), fps=FPS, duration_s=args["frames"] / FPS
        )
        started = time.perf_counter()
        video_match(query, reference)
        timings.append(time.perf_counter() - started)
    per_pair = float(np.mean(timings))
    return {
        "video_match_ms_per_pair": round(per_pair * 1000, 2),
        "scan_s_extrapolated": round(per_pair * videos, 1),
        "cache_mb_computed": round(videos * args["frames"] * 160 / MB, 1),
    }


def thinning_check(args: dict[str, Any]) -> int:
    """Rows the production thinning keeps of one generated video (one per shot expected)."""
    rng = np.random.default_rng(args["seed"] + 3)
    frames = frames_of(shot_hashes(0, args["shots"], args["seed"]), args["frames"], rng)
    return len(indexed_frames(frames, DEFAULT_CONFIG.min_quality))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--shots", type=int, default=30)
    parser.add_argument("--frames", type=int, default=1500)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 40])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    # 0: as video_frame_candidates (full radius for the hashes as posted); N: the first N.
    parser.add_argument("--primary", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None)
    args = vars(parser.parse_args())
    faiss.omp_set_num_threads(1)
    result: dict[str, Any] = {
        "synthetic": True,
        "machine": f"{platform.node()}, {multiprocessing.cpu_count()} cores",
        "python": platform.python_version(),
        "rows_kept_per_video": thinning_check(args),
        "params": {key: value for key, value in args.items() if key != "dir"},
        "runs": {},
    }
    context = multiprocessing.get_context("spawn")
    for videos in args["videos"]:
        with tempfile.TemporaryDirectory(dir=args["dir"]) as folder:
            run = build(Path(folder), videos, args["shots"], args["seed"])
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=reader, args=(folder, args, videos, send))
            child.start()
            run.update(receive.recv())
            child.join()
        run["scan"] = scan_cost(args, videos)
        result["runs"][str(videos)] = run
        print(f"{videos} videos done", file=sys.stderr)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
