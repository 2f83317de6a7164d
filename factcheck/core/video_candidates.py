"""Candidate reference videos from an index of their frames (no Django, no files).

Temporal alignment (factcheck.core.video_match) is exact and costs milliseconds per reference
video, so against a collection it runs only on the references an index proposes. The index
holds, per reference video, its distinct usable frame hashes (`indexed_frames`: a frame within
FRAME_THIN_DISTANCE bits of the last one kept of that video is dropped, since a search finds the
kept one within that many bits more), each row carrying the reference id, so an id has many rows.
A query votes with at most QUERY_MAX_ROWS of its own distinct frames, through the hash variants
the alignment compares (as posted, mirrored, bands trimmed, both: `query_hashes`); a reference
gets one vote per query frame with a row of it within the distance (`frame_votes`). Above the
flat size the index is a multi-index hash, exact within its radius: the hashes as posted get
the full radius, the other variants the narrower one of rotated image queries, as image
queries do (searched exactly, they would cost about 6x more probes; docs/benchmarks.md). The sampled
frames' global embeddings vote the same way in an index of the references' sample embeddings
(`sample_votes`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from factcheck.core.fingerprints import PDQ_BYTES
from factcheck.core.index import MISSING_ID
from factcheck.core.video_fingerprint import FrameHashes, hamming_rows

# Consecutive kept frames of one video differ by more than this (a still shot keeps one row).
# Searches for a frame within distance d look up to d + FRAME_THIN_DISTANCE.
FRAME_THIN_DISTANCE = 16
# Query frames that vote (distinct ones, evenly spread over the video): a long query costs a
# bounded search (at 100k reference videos, ~5 ms per frame: docs/benchmarks.md). A copy
# shares most of its frames with its original, so a few dozen frames single it out.
QUERY_MAX_ROWS = 64
# Index rows returned per query hash or sample: a reference has many rows, so enough that a
# second reference near the same frame still shows.
NEIGHBOURS = 32


def distinct_rows(hashes: np.ndarray, distance: int = FRAME_THIN_DISTANCE) -> np.ndarray:
    """Positions of `hashes` (n, 32) kept when each within `distance` bits of the last kept one
    is dropped, in order."""
    packed = np.ascontiguousarray(hashes, dtype=np.uint8).reshape(-1, PDQ_BYTES).tobytes()
    kept: list[int] = []
    last: int | None = None
    for row in range(len(packed) // PDQ_BYTES):
        value = int.from_bytes(packed[row * PDQ_BYTES : (row + 1) * PDQ_BYTES])
        if last is None or (value ^ last).bit_count() > distance:
            kept.append(row)
            last = value
    return np.array(kept, dtype=np.int64)


def indexed_frames(frames: FrameHashes, min_quality: int) -> np.ndarray:
    """The rows a reference video adds to the frame index, (m, 32) uint8: its usable frames'
    hashes thinned (`distinct_rows`), then, where trimming bands changed a frame's hash by more
    than FRAME_THIN_DISTANCE, those content hashes thinned too (a still of the picture without
    its letterbox is found through them, as `image_spans` compares both)."""
    usable = frames.usable(min_quality)
    plain = frames.hashes[usable]
    parts = [plain[distinct_rows(plain)]]
    if frames.content is not None and len(usable):
        content = frames.content[usable]
        banded = content[hamming_rows(content, plain) > FRAME_THIN_DISTANCE]
        parts.append(banded[distinct_rows(banded)])
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.uint8)


def query_rows(frames: FrameHashes, min_quality: int, max_rows: int = QUERY_MAX_ROWS) -> np.ndarray:
    """The query frames that vote: distinct usable frames, at most `max_rows`, evenly spread."""
    usable = frames.usable(min_quality)
    distinct: np.ndarray = usable[distinct_rows(frames.hashes[usable])]
    if len(distinct) > max_rows:
        distinct = distinct[np.unique(np.linspace(0, len(distinct) - 1, max_rows).astype(int))]
    return distinct


def query_hashes(frames: FrameHashes, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, frame row of each hash): `rows`' hashes as posted (the first `len(rows)`), then
    mirrored, and with bands trimmed where that changed them."""
    parts, owners = [], []
    for variant, base in (
        (frames.hashes, None),
        (frames.mirrored, None),
        (frames.content, frames.hashes),
        (frames.content_mirrored, frames.mirrored),
    ):
        if variant is None:
            continue
        chosen = rows
        if base is not None:  # equal to the untrimmed hash where there is no band
            chosen = rows[np.any(variant[rows] != base[rows], axis=1)]
        parts.append(variant[chosen])
        owners.append(chosen)
    if not parts:
        return np.zeros((0, PDQ_BYTES), np.uint8), np.zeros(0, np.int64)
    hashes = np.ascontiguousarray(np.concatenate(parts), dtype=np.uint8)
    return hashes, np.concatenate(owners).astype(np.int64)


def _votes(ids: np.ndarray, hit: np.ndarray, owners: np.ndarray) -> dict[int, int]:
    """{id: distinct owners with a hit of it}, most votes first (ties: smaller id)."""
    k = ids.shape[1] if ids.ndim == 2 else 1
    pairs = np.stack([np.repeat(owners, k)[hit.ravel()], ids[hit]], axis=1)
    if not len(pairs):
        return {}
    distinct = np.unique(pairs, axis=0)
    ref_ids, votes = np.unique(distinct[:, 1], return_counts=True)
    order = np.lexsort((ref_ids, -votes))
    return {int(ref_ids[i]): int(votes[i]) for i in order}


def frame_votes(
    index: Any,
    hashes: np.ndarray,
    owners: np.ndarray,
    *,
    max_distance: int,
    primary: int | None = None,
    k: int = NEIGHBOURS,
) -> dict[int, int]:
    """{reference id: query frames with one of its rows within `max_distance`}, most first.
    `index` is a PdqIndex or its layered view; `owners[i]` the query frame of `hashes[i]`; the
    first `primary` hashes get the index's full radius, the others its dihedral radius (a
    multi-index hash; None: all full)."""
    if index is None or not len(index) or not len(hashes):
        return {}
    ids, distances = index.search(hashes, k, primary=primary)
    hit = (ids != MISSING_ID) & (distances <= max_distance)
    return _votes(ids, hit, owners)


def sample_votes(
    index: Any, vectors: np.ndarray, *, min_similarity: float, k: int = NEIGHBOURS
) -> dict[int, int]:
    """{reference id: query samples with one of its samples at least `min_similarity`
    similar}, most first. `index` is a ClipIndex or its layered view."""
    if index is None or not len(index) or not len(vectors):
        return {}
    ids, similarities = index.search(vectors, k)
    hit = (ids != MISSING_ID) & (similarities >= min_similarity)
    return _votes(ids, hit, np.arange(len(vectors), dtype=np.int64))
