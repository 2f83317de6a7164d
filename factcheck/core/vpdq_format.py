"""vPDQ interoperability: ThreatExchange's video hash format and its standard comparison.

Facts from facebook/ThreatExchange (vpdq/cpp/vpdq/cpp/io/vpdqio.cpp, vpdq/cpp/vpdq/cpp/hashing/
hasher.h and matchTwoHash.cpp, python-threatexchange/.../extensions/vpdq/vpdq_util.py and
vpdq_brute_matcher.py):

- A vPDQ hash file has one line per hashed frame, `frame_number,quality,pdq_hex,timestamp`:
  frame numbers count decoded frames from 0, quality is PDQ's 0-100, the hash is PDQ's 64-digit
  lowercase hex, and the timestamp is seconds with 3 decimals (`frame_number / frame_rate`).
  A reader takes the first four comma-separated fields of each line.
- HMA's vPDQ signal is a JSON list of `"pdq_hex,quality,timestamp"` strings.
- Comparison: both sides drop exact duplicate hashes (first kept) and hashes of quality under
  50; a frame matches when some frame of the other side is within Hamming distance 31
  (HMA: `<=`; the C++ `match-hashes-brute` uses `<`); the result is the percentage of the
  query's and of the compared video's remaining frames that match. HMA calls it a match at
  query >= 80 % and compared >= 0 %.
- The optional pruning of the vPDQ README drops frames within a distance of the last kept one.

PDQ hex: the hash's 16 words printed most significant first, which is exactly our packed bytes
(`pdqhash`'s bit vector runs from bit 255 to bit 0, packed big-endian) in hex.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import faiss
import numpy as np

from factcheck.core.fingerprints import PDQ_BITS, PDQ_BYTES
from factcheck.core.video_fingerprint import FrameHashes, hamming_rows

VPDQ_DISTANCE_TOLERANCE = 31
VPDQ_QUALITY_TOLERANCE = 50
VPDQ_QUERY_MATCH_PERCENT = 80.0
VPDQ_COMPARED_MATCH_PERCENT = 0.0
VPDQ_TIMESTAMP_DECIMALS = 3
PDQ_HEX_LENGTH = PDQ_BYTES * 2


def pdq_hex(bits: np.ndarray) -> str:
    """PDQ's hex form of a packed (32,) uint8 hash."""
    return np.asarray(bits, np.uint8).tobytes().hex()


def pdq_from_hex(text: str) -> np.ndarray:
    """The packed (32,) uint8 hash of PDQ's hex form; ValueError if malformed."""
    if len(text) != PDQ_HEX_LENGTH:
        raise ValueError(f"a PDQ hash has {PDQ_HEX_LENGTH} hex digits, got {len(text)}")
    return np.frombuffer(bytes.fromhex(text), np.uint8).copy()


def _from_columns(
    numbers: list[int], times: list[float], qualities: list[int], hashes: list[np.ndarray]
) -> FrameHashes:
    return FrameHashes(
        frame_numbers=np.array(numbers, np.int64),
        times_s=np.array(times, np.float64),
        qualities=np.array(qualities, np.int64),
        hashes=np.stack(hashes) if hashes else np.zeros((0, PDQ_BYTES), np.uint8),
    )


def _checked(quality: int, time_s: float) -> None:
    if not 0 <= quality <= 100:
        raise ValueError(f"quality {quality} is not in 0-100")
    if not time_s >= 0:
        raise ValueError(f"timestamp {time_s} is negative")


def write_vpdq(hashes: FrameHashes) -> str:
    """The vPDQ hash file text (one line per frame, newline-terminated)."""
    return "".join(
        f"{number},{quality},{pdq_hex(bits)},{time_s:.{VPDQ_TIMESTAMP_DECIMALS}f}\n"
        for number, quality, bits, time_s in zip(
            hashes.frame_numbers.tolist(),
            hashes.qualities.tolist(),
            hashes.hashes,
            hashes.times_s.tolist(),
            strict=True,
        )
    )


def read_vpdq(text: str) -> FrameHashes:
    """Frames of a vPDQ hash file; ValueError naming the line for anything malformed."""
    numbers: list[int] = []
    times: list[float] = []
    qualities: list[int] = []
    hashes: list[np.ndarray] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.strip().split(",")
        try:
            if len(fields) < 4:
                raise ValueError("expected frame_number,quality,pdq_hex,timestamp")
            number, quality, time_s = int(fields[0]), int(fields[1]), float(fields[3])
            _checked(quality, time_s)
            hashes.append(pdq_from_hex(fields[2]))
        except ValueError as error:
            raise ValueError(f"vPDQ line {line_number}: {error}") from error
        numbers.append(number)
        qualities.append(quality)
        times.append(time_s)
    return _from_columns(numbers, times, qualities, hashes)


def to_hma_signal(hashes: FrameHashes) -> str:
    """HMA's vPDQ signal string: a JSON list of "pdq_hex,quality,timestamp"."""
    return json.dumps(
        [
            f"{pdq_hex(bits)},{quality},{time_s:.{VPDQ_TIMESTAMP_DECIMALS}f}"
            for bits, quality, time_s in zip(
                hashes.hashes, hashes.qualities.tolist(), hashes.times_s.tolist(), strict=True
            )
        ]
    )


def from_hma_signal(signal: str) -> FrameHashes:
    """Inverse of `to_hma_signal` (frame numbers, absent from the signal, count from 0)."""
    items = json.loads(signal or "[]")
    if not isinstance(items, list):
        raise ValueError("a vPDQ signal is a JSON list")
    times: list[float] = []
    qualities: list[int] = []
    hashes: list[np.ndarray] = []
    for item in items:
        fields = str(item).split(",")
        if len(fields) != 3:
            raise ValueError(f"invalid vPDQ feature: {item!r}")
        quality, time_s = int(fields[1]), float(fields[2])
        _checked(quality, time_s)
        hashes.append(pdq_from_hex(fields[0]))
        qualities.append(quality)
        times.append(time_s)
    return _from_columns(list(range(len(hashes))), times, qualities, hashes)


def vpdq_dedupe(hashes: FrameHashes) -> FrameHashes:
    """Without exact repeats of a hash (the first occurrence kept), as HMA compares."""
    _, first = np.unique(hashes.hashes, axis=0, return_index=True)
    return hashes.take(np.sort(first))


def vpdq_prune(hashes: FrameHashes, distance: int) -> FrameHashes:
    """Without frames within `distance` of the last kept frame (the README's optional pruning)."""
    kept: list[int] = []
    for row in range(len(hashes)):
        if not kept or hamming_rows(hashes.hashes[row], hashes.hashes[kept[-1]]) > distance:
            kept.append(row)
    return hashes.take(np.array(kept, np.int64))


@dataclass(frozen=True)
class VpdqComparison:
    """Percentages (0-100) of the query's and of the compared video's frames that matched."""

    query_match_percent: float
    compared_match_percent: float

    def is_match(
        self,
        query_threshold: float = VPDQ_QUERY_MATCH_PERCENT,
        compared_threshold: float = VPDQ_COMPARED_MATCH_PERCENT,
    ) -> bool:
        return (
            self.query_match_percent >= query_threshold
            and self.compared_match_percent >= compared_threshold
        )


def _matched_share(frames: np.ndarray, other: np.ndarray, distance_tolerance: int) -> float:
    index = faiss.IndexBinaryFlat(PDQ_BITS)
    index.add(np.ascontiguousarray(other))
    nearest, _ = index.search(np.ascontiguousarray(frames), 1)
    return float((nearest[:, 0] <= distance_tolerance).mean() * 100.0)


def vpdq_compare(
    query: FrameHashes,
    compared: FrameHashes,
    *,
    distance_tolerance: int = VPDQ_DISTANCE_TOLERANCE,
    quality_tolerance: int = VPDQ_QUALITY_TOLERANCE,
) -> VpdqComparison:
    """vPDQ's comparison of two videos as unordered bags of frame hashes (HMA's semantics)."""
    sides = []
    for hashes in (query, compared):
        unique = vpdq_dedupe(hashes)
        sides.append(unique.hashes[unique.qualities >= quality_tolerance])
    query_hashes, compared_hashes = sides
    if not len(query_hashes) or not len(compared_hashes):
        return VpdqComparison(0.0, 0.0)
    return VpdqComparison(
        _matched_share(query_hashes, compared_hashes, distance_tolerance),
        _matched_share(compared_hashes, query_hashes, distance_tolerance),
    )
