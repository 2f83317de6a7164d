"""Per-video fingerprints: PDQ frame hashes (vPDQ's features), shot boundaries and keyframes.

Input is a stream of decoded frames (`VideoFrame`: time, index, RGB array); decoding, its formats
and its limits are the caller's (`mediastore.videos.iter_frames`), so this module never opens a
file. One pass hashes each frame (or one every `every_s` seconds, vPDQ's `seconds_per_hash`) with
the same PDQ as still images (`fingerprints.pdq_dihedral_hashes`): as posted (vPDQ's hash), its
left-right mirror (so a mirrored repost aligns), and both again with uniform bands trimmed (so a
letterboxed or caption-band repost aligns), plus a colour histogram change for cut detection.
Frames are not held. The result is stored per reference video (`to_bytes`). Timestamps are the
frames' own (presentation time); vPDQ's are frame number / frame rate, the same for the
constant frame rates it assumes.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from factcheck.core.features import scaled_size
from factcheck.core.fingerprints import (
    PDQ_BYTES,
    PDQ_MIN_QUALITY,
    pdq_dihedral_hashes,
    pdq_working_image,
)

# pdqhash.compute_dihedral order: original, rot90, rot180, rot270, flipX, flipY, flip+1, flip-1.
# flipY (about the vertical axis) is the left-right mirror.
MIRROR_DIHEDRAL = 5
# Bins per RGB channel of the cut-detection histogram, and the thumbnail it is counted on.
HISTOGRAM_BINS = 4
HISTOGRAM_THUMBNAIL = 64
# A cut: consecutive usable hashes this far apart (on the tune split at 10 fps, frames within a
# shot of pans, zooms and moving shapes are at most 84 bits apart, cuts at least 110) ...
CUT_HASH_DISTANCE = 96
# ... or this much of the colour histogram changing (total variation in [0, 1]; within shots
# <= 0.05, cuts >= 0.54), which also catches cuts to and from flat frames, whose PDQ hashes are
# noise.
CUT_COLOUR_CHANGE = 0.3
# The first frame of a shot within this distance of its successor is "stable" (past a
# transition); a shot's keyframe is its first stable frame.
STABLE_HASH_DISTANCE = 24
# Long shots get one more keyframe every this many seconds.
KEYFRAME_INTERVAL_S = 5.0
# Bands (letterbox borders, meme caption bands) are trimmed for the content hash: a line (on a
# thumbnail this wide) belongs to a band when this share of its pixels is within this many grey
# levels of the edge line's median. Caption text keeps ~70 % of a row in the band colour; side
# bands (pillarbox) carry no text and must be uniform, which keeps dark image edges, and so
# must the line a band's colour is read from.
BAND_THUMBNAIL_WIDTH = 128
BAND_TOLERANCE = 16
BAND_MIN_FILL_ROWS = 0.6
BAND_MIN_FILL_COLUMNS = 0.95
BAND_MIN_DEPTH = 0.03
BAND_MAX_DEPTH = 0.4
BAND_PASSES = 2
BAND_EDGE_LINES = 2
BAND_MIN_SIDE = 16  # pixels; a frame trimmed smaller than this keeps its bands
# Hashing threads: the reference machine's two cores (decoding runs in FFmpeg's own threads).
HASH_THREADS = 2
FINGERPRINT_FORMAT = 1
FINGERPRINT_KIND = "provenant.video_fingerprint"


class VideoFrame(Protocol):
    """A decoded frame: presentation time, position in the stream, RGB pixels (H, W, 3) uint8."""

    @property
    def time_s(self) -> float: ...

    @property
    def index(self) -> int: ...

    @property
    def rgb(self) -> np.ndarray: ...


@dataclass(frozen=True)
class Frame:
    """A plain `VideoFrame`, for readers and tests."""

    time_s: float
    index: int
    rgb: np.ndarray


@dataclass(frozen=True, eq=False)
class FrameHashes:
    """Hashed frames as columns: one row per hashed frame, in stream order.

    `hashes` are vPDQ's (PDQ of the whole frame), `mirrored` their left-right mirror. `content`
    hashes the frame with its bands (borders, caption bands) trimmed, equal to `hashes` where
    there is none, and `content_mirrored` its mirror: a query is compared through all four
    against a reference's `hashes`. These and `colour_changes` (histogram change from the
    previous row) are None for hashes read from a vPDQ file, which has none of them.
    """

    frame_numbers: np.ndarray  # (n,) int64
    times_s: np.ndarray  # (n,) float64
    qualities: np.ndarray  # (n,) int64, PDQ quality 0-100
    hashes: np.ndarray  # (n, 32) uint8
    mirrored: np.ndarray | None = None  # (n, 32) uint8
    content: np.ndarray | None = None  # (n, 32) uint8
    content_mirrored: np.ndarray | None = None  # (n, 32) uint8
    colour_changes: np.ndarray | None = None  # (n,) float64

    def __len__(self) -> int:
        return len(self.frame_numbers)

    def take(self, rows: np.ndarray) -> FrameHashes:
        """The given rows (indices or a boolean mask), as a new FrameHashes."""
        return FrameHashes(
            frame_numbers=self.frame_numbers[rows],
            times_s=self.times_s[rows],
            qualities=self.qualities[rows],
            hashes=self.hashes[rows],
            mirrored=None if self.mirrored is None else self.mirrored[rows],
            content=None if self.content is None else self.content[rows],
            content_mirrored=None if self.content_mirrored is None else self.content_mirrored[rows],
            colour_changes=None if self.colour_changes is None else self.colour_changes[rows],
        )

    def usable(self, min_quality: int = PDQ_MIN_QUALITY) -> np.ndarray:
        """Rows whose hash is trustworthy (PDQ quality at least `min_quality`)."""
        return np.flatnonzero(self.qualities >= min_quality)


def empty_hashes() -> FrameHashes:
    return FrameHashes(
        frame_numbers=np.zeros(0, np.int64),
        times_s=np.zeros(0, np.float64),
        qualities=np.zeros(0, np.int64),
        hashes=np.zeros((0, PDQ_BYTES), np.uint8),
        mirrored=np.zeros((0, PDQ_BYTES), np.uint8),
        content=np.zeros((0, PDQ_BYTES), np.uint8),
        content_mirrored=np.zeros((0, PDQ_BYTES), np.uint8),
        colour_changes=np.zeros(0, np.float64),
    )


def hamming_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distances between two (n, 32) packed hash arrays."""
    distances: np.ndarray = np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1, dtype=np.int64)
    return distances


def _colour_histogram(image: np.ndarray) -> np.ndarray:
    thumbnail = cv2.resize(
        image, (HISTOGRAM_THUMBNAIL, HISTOGRAM_THUMBNAIL), interpolation=cv2.INTER_AREA
    )
    levels = (thumbnail // (256 // HISTOGRAM_BINS)).astype(np.int64).reshape(-1, 3)
    codes = (levels[:, 0] * HISTOGRAM_BINS + levels[:, 1]) * HISTOGRAM_BINS + levels[:, 2]
    counts = np.bincount(codes, minlength=HISTOGRAM_BINS**3).astype(np.float64)
    histogram: np.ndarray = counts / counts.sum()
    return histogram


def _band_depth(lines: np.ndarray, min_fill: float) -> int:
    """How many lines from index 0 form a band of one colour (0 when there is none). The colour
    is read a few lines in (resizing blends a band's outer line with what lies beyond it), and
    a band may hold lines of text, i.e. runs of lines not filled, each no longer than the band
    so far."""
    limit = int(len(lines) * BAND_MAX_DEPTH) + 1
    if limit <= BAND_EDGE_LINES:
        return 0
    colour = np.median(lines[BAND_EDGE_LINES])
    fill = (np.abs(lines[:limit] - colour) <= BAND_TOLERANCE).mean(axis=1)
    if fill[BAND_EDGE_LINES] < BAND_MIN_FILL_COLUMNS:
        return 0  # a band has plain lines (above its text); picture rows rarely are
    depth = filled = gap = 0
    for position, line_fill in enumerate(fill.tolist()):
        if line_fill >= min_fill or position < BAND_EDGE_LINES:
            depth, gap = position + 1, 0
            filled += 1
        else:
            gap += 1
            if gap > max(BAND_EDGE_LINES, filled):
                break
    return depth if BAND_MIN_DEPTH * len(lines) <= depth < limit else 0


def _trim_once(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = min(1.0, BAND_THUMBNAIL_WIDTH / width)
    size = scaled_size(image.shape, scale)
    grey = cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    grey = grey.astype(np.float32)
    top = _band_depth(grey, BAND_MIN_FILL_ROWS)
    bottom = _band_depth(grey[::-1], BAND_MIN_FILL_ROWS)
    left = _band_depth(grey.T, BAND_MIN_FILL_COLUMNS)
    right = _band_depth(grey.T[::-1], BAND_MIN_FILL_COLUMNS)
    if top == bottom == left == right == 0:
        return image
    rows = slice(round(top / scale), height - round(bottom / scale))
    columns = slice(round(left / scale), width - round(right / scale))
    inner = image[rows, columns]
    return np.ascontiguousarray(inner) if min(inner.shape[:2]) >= BAND_MIN_SIDE else image


def trim_bands(image: np.ndarray) -> np.ndarray:
    """The frame without uniform bands along its sides (letterbox, pillarbox, caption band);
    the same array when there is none. Nested bands (a caption above a letterboxed picture)
    come off pass by pass."""
    for _ in range(BAND_PASSES):
        trimmed = _trim_once(image)
        if trimmed is image:
            break
        image = trimmed
    return image


@dataclass(frozen=True)
class _Scan:
    hashes: FrameHashes
    frames_seen: int
    last_time_s: float
    median_interval_s: float


@dataclass(frozen=True)
class _Hashed:
    index: int
    time_s: float
    quality: int
    hashes: np.ndarray  # (4, 32): as posted, mirrored, content, content mirrored
    histogram: np.ndarray


def _hash_frame(frame: VideoFrame) -> _Hashed:
    """Everything one frame contributes. PDQ, the band trimming and the histogram all work on
    PDQ's own downsample, so the full-size frame is resized once."""
    small = pdq_working_image(frame.rgb)
    dihedral, quality = pdq_dihedral_hashes(small)
    trimmed = trim_bands(small)
    content = dihedral if trimmed is small else pdq_dihedral_hashes(trimmed)[0]
    rows = [0, MIRROR_DIHEDRAL]
    return _Hashed(
        index=int(frame.index),
        time_s=float(frame.time_s),
        quality=quality,
        hashes=np.concatenate([dihedral[rows], content[rows]]),
        histogram=_colour_histogram(small),
    )


def _sampled(
    frames: Iterable[VideoFrame], every_s: float, seen: list[float]
) -> Iterator[VideoFrame]:
    """The frames to hash (one every `every_s` seconds); appends every frame's time to `seen`."""
    next_due = -np.inf
    for frame in frames:
        time_s = float(frame.time_s)
        seen.append(time_s)
        # Sampling by time, not frame count, so variable frame rates sample evenly; a
        # millisecond of slack absorbs timestamp rounding.
        if time_s >= next_due - 1e-3:
            next_due = time_s + every_s
            yield frame


def _hashed_in_order(frames: Iterator[VideoFrame], threads: int) -> Iterator[_Hashed]:
    """`_hash_frame` over the frames on a few threads (OpenCV and numpy release the GIL), with
    at most two frames per thread in flight, so memory stays bounded on any length."""
    if threads <= 1:
        yield from map(_hash_frame, frames)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending: deque[Future[_Hashed]] = deque()
        for frame in frames:
            pending.append(pool.submit(_hash_frame, frame))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _scan(frames: Iterable[VideoFrame], every_s: float, threads: int) -> _Scan:
    seen: list[float] = []
    results = list(_hashed_in_order(_sampled(frames, every_s, seen), threads))
    intervals = np.diff(seen)
    median = float(np.median(intervals)) if len(intervals) else 0.0
    last_time = seen[-1] if seen else 0.0
    if not results:
        return _Scan(empty_hashes(), len(seen), last_time, median)
    stacked = np.stack([result.hashes for result in results])
    histograms = np.stack([result.histogram for result in results])
    changes = np.concatenate([[0.0], 0.5 * np.abs(np.diff(histograms, axis=0)).sum(axis=1)])
    frame_hashes = FrameHashes(
        frame_numbers=np.array([result.index for result in results], np.int64),
        times_s=np.array([result.time_s for result in results], np.float64),
        qualities=np.array([result.quality for result in results], np.int64),
        hashes=stacked[:, 0],
        mirrored=stacked[:, 1],
        content=stacked[:, 2],
        content_mirrored=stacked[:, 3],
        colour_changes=changes,
    )
    return _Scan(frame_hashes, len(seen), last_time, median)


def hash_frames(
    frames: Iterable[VideoFrame], *, every_s: float = 0.0, threads: int = HASH_THREADS
) -> FrameHashes:
    """PDQ hashes of the frames (every frame, or one every `every_s` seconds)."""
    return _scan(frames, every_s, threads).hashes


def shot_starts(hashes: FrameHashes) -> np.ndarray:
    """Rows of `hashes` where a shot starts (row 0 always, when there is one)."""
    if len(hashes) == 0:
        return np.zeros(0, np.int64)
    distance = hamming_rows(hashes.hashes[1:], hashes.hashes[:-1])
    usable = hashes.qualities >= PDQ_MIN_QUALITY
    hash_cut = (distance >= CUT_HASH_DISTANCE) & usable[1:] & usable[:-1]
    cut = hash_cut
    if hashes.colour_changes is not None:
        cut = cut | (hashes.colour_changes[1:] >= CUT_COLOUR_CHANGE)
    return np.concatenate([[0], np.flatnonzero(cut) + 1]).astype(np.int64)


def select_keyframes(
    hashes: FrameHashes, starts: np.ndarray, *, interval_s: float = KEYFRAME_INTERVAL_S
) -> np.ndarray:
    """Rows to run the global descriptor on: each shot's first stable frame, then one every
    `interval_s` seconds within the shot."""
    if len(hashes) == 0:
        return np.zeros(0, np.int64)
    to_next = np.append(hamming_rows(hashes.hashes[1:], hashes.hashes[:-1]), PDQ_BYTES * 8)
    stable = (to_next <= STABLE_HASH_DISTANCE) & (hashes.qualities >= PDQ_MIN_QUALITY)
    ends = np.append(starts[1:], len(hashes))
    rows: list[int] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        candidates = np.flatnonzero(stable[start:end])
        # Stable within the shot's own frames: the last frame's successor is the next shot.
        candidates = candidates[candidates < end - start - 1]
        row = start + int(candidates[0]) if len(candidates) else start
        rows.append(row)
        last_time = hashes.times_s[row]
        for later in range(row + 1, end):
            if hashes.times_s[later] >= last_time + interval_s - 1e-6:
                rows.append(later)
                last_time = hashes.times_s[later]
    return np.array(rows, np.int64)


@dataclass(frozen=True, eq=False)
class VideoFingerprint:
    """What is stored per video: hashed frames, shot starts and keyframes (rows of `frames`)."""

    fps: float
    duration_s: float
    frames: FrameHashes
    shot_starts: np.ndarray  # (s,) int64 rows of `frames`
    keyframes: np.ndarray  # (k,) int64 rows of `frames`

    @property
    def shot_start_times_s(self) -> np.ndarray:
        return np.asarray(self.frames.times_s[self.shot_starts])

    @property
    def keyframe_times_s(self) -> np.ndarray:
        return np.asarray(self.frames.times_s[self.keyframes])

    @property
    def keyframe_indices(self) -> np.ndarray:
        """Stream positions (`VideoFrame.index`) of the keyframes."""
        return np.asarray(self.frames.frame_numbers[self.keyframes])

    def to_bytes(self) -> bytes:
        """A versioned npz (no pickles), stable across numpy versions."""
        meta = {
            "kind": FINGERPRINT_KIND,
            "format": FINGERPRINT_FORMAT,
            "fps": self.fps,
            "duration_s": self.duration_s,
        }
        frames = self.frames
        arrays: dict[str, np.ndarray] = {
            "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8),
            "frame_numbers": frames.frame_numbers,
            "times_s": frames.times_s,
            "qualities": frames.qualities,
            "hashes": frames.hashes,
            "shot_starts": self.shot_starts,
            "keyframes": self.keyframes,
        }
        if frames.mirrored is not None:
            arrays["mirrored"] = frames.mirrored
        if frames.content is not None:
            arrays["content"] = frames.content
        if frames.content_mirrored is not None:
            arrays["content_mirrored"] = frames.content_mirrored
        if frames.colour_changes is not None:
            arrays["colour_changes"] = frames.colour_changes
        buffer = io.BytesIO()
        np.savez_compressed(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> VideoFingerprint:
        """Inverse of `to_bytes`; ValueError for anything else or a newer format."""
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            meta = json.loads(arrays.pop("meta").tobytes().decode())
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(f"not a video fingerprint: {error}") from error
        if meta.get("kind") != FINGERPRINT_KIND or meta.get("format") != FINGERPRINT_FORMAT:
            raise ValueError(
                f"unsupported video fingerprint {meta.get('kind')!r} v{meta.get('format')}"
            )
        frames = FrameHashes(
            frame_numbers=arrays["frame_numbers"].astype(np.int64),
            times_s=arrays["times_s"].astype(np.float64),
            qualities=arrays["qualities"].astype(np.int64),
            hashes=arrays["hashes"].astype(np.uint8).reshape(-1, PDQ_BYTES),
            mirrored=arrays.get("mirrored"),
            content=arrays.get("content"),
            content_mirrored=arrays.get("content_mirrored"),
            colour_changes=arrays.get("colour_changes"),
        )
        return cls(
            fps=float(meta["fps"]),
            duration_s=float(meta["duration_s"]),
            frames=frames,
            shot_starts=arrays["shot_starts"].astype(np.int64),
            keyframes=arrays["keyframes"].astype(np.int64),
        )


def fingerprint_from_hashes(
    hashes: FrameHashes, *, fps: float, duration_s: float
) -> VideoFingerprint:
    """A fingerprint of already hashed frames (e.g. read from a vPDQ file)."""
    starts = shot_starts(hashes)
    return VideoFingerprint(
        fps=fps,
        duration_s=duration_s,
        frames=hashes,
        shot_starts=starts,
        keyframes=select_keyframes(hashes, starts),
    )


def video_fingerprint(
    frames: Iterable[VideoFrame],
    *,
    fps: float | None = None,
    every_s: float = 0.0,
    threads: int = HASH_THREADS,
) -> VideoFingerprint:
    """Fingerprint a stream of frames in one pass. `fps` defaults to the median frame interval's
    inverse; the duration runs to the end of the last frame."""
    scan = _scan(frames, every_s, threads)
    if fps is None:
        fps = 1.0 / scan.median_interval_s if scan.median_interval_s > 0 else 0.0
    duration = scan.last_time_s + (1.0 / fps if fps > 0 else 0.0) if scan.frames_seen else 0.0
    return fingerprint_from_hashes(scan.hashes, fps=fps, duration_s=duration)
