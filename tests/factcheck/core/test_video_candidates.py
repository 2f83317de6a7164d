"""Candidates from the video frame index (factcheck.core.video_candidates), without Django."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from factcheck.core.index import ClipIndex, FloatIndexConfig, PdqIndex
from factcheck.core.video_candidates import (
    FRAME_THIN_DISTANCE,
    distinct_rows,
    frame_votes,
    indexed_frames,
    query_hashes,
    query_rows,
    sample_votes,
)
from factcheck.core.video_fingerprint import FrameHashes, hamming_rows


def flipped(hashes: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """`hashes` with `bits` random bits of each row flipped."""
    unpacked = np.unpackbits(hashes, axis=1)
    for row in unpacked:
        row[rng.choice(unpacked.shape[1], bits, replace=False)] ^= 1
    return np.packbits(unpacked, axis=1)


def frame_hashes(hashes: np.ndarray, *, qualities: np.ndarray | None = None, **variants):
    n = len(hashes)
    return FrameHashes(
        frame_numbers=np.arange(n, dtype=np.int64),
        times_s=np.arange(n, dtype=np.float64) / 10,
        qualities=np.full(n, 100, np.int64) if qualities is None else qualities,
        hashes=hashes,
        **variants,
    )


def test_a_frame_near_the_last_kept_one_is_dropped() -> None:
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, 256, (2, 32), dtype=np.uint8)
    near = flipped(first[None], FRAME_THIN_DISTANCE, rng)[0]  # at the limit: dropped
    beyond = flipped(first[None], FRAME_THIN_DISTANCE + 1, rng)[0]  # past it: kept
    hashes = np.stack([first, near, first, second, second, beyond])
    assert distinct_rows(hashes).tolist() == [0, 3, 5]
    assert distinct_rows(np.zeros((0, 32), np.uint8)).tolist() == []


def test_indexed_frames_are_the_distinct_usable_ones_and_changed_content_hashes() -> None:
    rng = np.random.default_rng(1)
    shots = rng.integers(0, 256, (3, 32), dtype=np.uint8)
    hashes = np.repeat(shots, 10, axis=0)  # three still shots of ten frames
    qualities = np.full(30, 100, np.int64)
    qualities[20:] = 10  # the third shot is too flat to trust
    content = hashes.copy()
    content[:10] = rng.integers(0, 256, (1, 32), dtype=np.uint8)  # a band in the first shot
    frames = frame_hashes(hashes, qualities=qualities, content=content)
    rows = indexed_frames(frames, min_quality=30)
    assert rows.shape == (3, 32)
    assert hamming_rows(rows, np.stack([shots[0], shots[1], content[0]])).tolist() == [0, 0, 0]


def test_a_long_query_votes_with_a_bounded_number_of_frames() -> None:
    rng = np.random.default_rng(2)
    hashes = rng.integers(0, 256, (1000, 32), dtype=np.uint8)
    mirrored = rng.integers(0, 256, (1000, 32), dtype=np.uint8)
    frames = frame_hashes(hashes, mirrored=mirrored, content=hashes.copy())
    rows = query_rows(frames, min_quality=30, max_rows=100)
    assert len(rows) == 100 and rows[0] == 0 and rows[-1] == 999
    found, owners = query_hashes(frames, rows)
    # As posted and mirrored; the content hashes equal the plain ones, so they add nothing.
    assert len(found) == 200 and sorted(set(owners.tolist())) == rows.tolist()


def test_each_query_frame_votes_once_per_reference() -> None:
    rng = np.random.default_rng(3)
    copy, other = rng.integers(0, 256, (2, 40, 32), dtype=np.uint8)
    # The copy is in the index twice over (a reference may repeat a frame in a later shot).
    index = PdqIndex.build(
        np.concatenate([copy, copy, other]), np.array([7] * 80 + [9] * 40, np.int64)
    )
    query = flipped(copy[:20], 8, rng)
    votes = frame_votes(index, query, np.arange(20), max_distance=64)
    assert votes == {7: 20}
    assert frame_votes(index, query, np.arange(20) // 2, max_distance=64) == {7: 10}
    assert frame_votes(None, query, np.arange(20), max_distance=64) == {}


def test_samples_vote_for_the_reference_they_resemble() -> None:
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(30, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = ClipIndex.build(
        vectors, np.array([1] * 10 + [2] * 20, np.int64), FloatIndexConfig(dim=8)
    )
    votes = sample_votes(index, vectors[12:18], min_similarity=0.99)
    assert votes == {2: 6}


def test_the_benchmark_runs_and_finds_every_source(tmp_path) -> None:
    """scripts/bench_video_index.py at a tiny size (its figures are in docs/benchmarks.md)."""
    script = Path(__file__).resolve().parents[3] / "scripts" / "bench_video_index.py"
    arguments = ["--videos", "300", "--queries", "3", "--pairs", "1", "--bits", "16"]
    done = subprocess.run(
        [sys.executable, str(script), *arguments, "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    run = result["runs"]["300"]
    assert result["synthetic"] is True and result["rows_kept_per_video"] == 30
    assert run["rows"] == 9000 and run["kind"] == "flat"
    assert run["recall"] == {"video_bits_16": 1.0, "still_bits_16": 1.0}
    assert run["video_ms"]["bits_16"]["p50"] > 0 and run["scan"]["video_match_ms_per_pair"] > 0


def test_a_video_without_a_usable_frame_adds_and_asks_nothing() -> None:
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 256, (50, 32), dtype=np.uint8)
    dark = frame_hashes(hashes, qualities=np.zeros(50, np.int64), content=hashes.copy())
    assert indexed_frames(dark, min_quality=30).shape == (0, 32)
    found, owners = query_hashes(dark, query_rows(dark, min_quality=30))
    assert found.shape == (0, 32) and len(owners) == 0
    index = PdqIndex.build(hashes, np.arange(50, dtype=np.int64))
    assert frame_votes(index, found, owners, max_distance=64) == {}
