"""Temporal alignment of a query video with a reference video, and frame lookups.

Each usable query frame (PDQ quality >= `min_quality`) is compared through its four hashes (as
posted, mirrored, bands trimmed, both) with the reference's frames (FAISS exact binary k-NN),
keeping pairs within `match_distance`. Pairs of a copy lie on lines ref_time = offset + speed *
query_time; a Hough vote over (speed in [0.9, 1.1], offset) finds the strongest line, a weighted
least-squares fit refines it on its inliers, the inliers split into segments at gaps, and the
segments' query frames leave the vote before the next line is sought, so a re-cut copy yields
one segment per piece. A line must gather enough distinct frames over enough seconds, so a
static video or one frame held for seconds (which match every offset, or none) never forms
one: those are stills, found with `frame_lookup` / `image_spans`. When a second offset is almost
as well supported as the best (a looped clip), the alignment says `ambiguous`.

PDQ does not survive crops of more than a few percent; crops need the global descriptor on the
keyframes, which is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from factcheck.core.fingerprints import PDQ_BITS, PDQ_MIN_QUALITY
from factcheck.core.video_fingerprint import FrameHashes, VideoFingerprint, hamming_rows


@dataclass(frozen=True)
class VideoMatchConfig:
    """Thresholds of the temporal matcher, set on the tune split of `videocases`."""

    # Re-encoded, downscaled, bordered and captioned copies stay under ~40 bits, and under ~70
    # for smooth footage of PDQ quality 30-50; frames of unrelated videos are rarely under 90.
    match_distance: int = 64
    # PDQ calls hashes under quality 50 unreliable alone; in a line of many frames they still
    # align (dark or smooth footage sits at 30-50, black frames at 0).
    min_quality: int = 30
    neighbours: int = 16  # reference frames considered per query frame and hash variant
    min_speed: float = 0.9
    max_speed: float = 1.1
    speed_step: float = 0.0025
    offset_bin_s: float = 0.2
    inlier_tolerance_s: float = 0.3  # of the fitted line, in reference seconds
    unit_speed_share: float = 0.9  # speed 1 stays if it fits this share of the free fit's frames
    max_gap_s: float = 1.0  # query seconds without an inlier that end a segment
    min_segment_s: float = 1.5
    min_segment_frames: int = 8
    # Distinct hashes (consecutive frames within `static_distance` count once) a segment needs.
    min_distinct_frames: int = 4
    static_distance: int = 16
    max_segments: int = 8
    # Share of the query's usable frames, or of the reference's, that the segments must cover.
    min_query_fraction: float = 0.2
    min_reference_fraction: float = 0.2
    # A second offset (this far from the best) with this share of the best's votes.
    ambiguous_offset_s: float = 1.0
    ambiguous_ratio: float = 0.8
    # `frame_lookup` / `image_spans`: a still and a video frame within this distance.
    frame_distance: int = 31


DEFAULT_CONFIG = VideoMatchConfig()


@dataclass(frozen=True)
class Segment:
    """A stretch of the query (query seconds) and the reference stretch it shows."""

    start_s: float
    end_s: float
    ref_start_s: float
    ref_end_s: float
    speed: float
    frames: int  # aligned query frames in the segment


@dataclass(frozen=True)
class FramePair:
    """One aligned frame: query time, the reference time the fitted line maps it to, and the
    Hamming distance to the most similar reference frame near that time."""

    query_time_s: float
    reference_time_s: float
    distance: int


@dataclass(frozen=True)
class VideoAlignment:
    """How the query shows the reference. `offset_s` is the reference time at query time 0 on
    the main (longest) segment and `speed` its reference seconds per query second; `score` is
    the share of the query's usable frames aligned."""

    offset_s: float
    speed: float
    mirrored: bool
    segments: tuple[Segment, ...]
    pairs: tuple[FramePair, ...]
    score: float
    reference_fraction: float
    ambiguous: bool


@dataclass(frozen=True)
class _Line:
    offset: float
    speed: float
    votes: float
    ambiguous: bool


def _query_variants(frames: FrameHashes) -> list[tuple[bool, list[np.ndarray]]]:
    """(mirrored, hash arrays) for the query as posted and mirrored."""
    plain = [frames.hashes] + ([frames.content] if frames.content is not None else [])
    mirrored = [h for h in (frames.mirrored, frames.content_mirrored) if h is not None]
    return [(False, plain)] + ([(True, mirrored)] if mirrored else [])


def _candidate_pairs(
    variants: list[np.ndarray], index: faiss.IndexBinaryFlat, config: VideoMatchConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query row, reference row, distance) of every pair within `match_distance`, the best
    distance per pair over the hash variants."""
    k = min(config.neighbours, index.ntotal)
    rows, refs, distances = [], [], []
    for hashes in variants:
        found_distances, found = index.search(np.ascontiguousarray(hashes), k)
        keep = (found_distances <= config.match_distance) & (found >= 0)
        rows.append(np.nonzero(keep)[0])
        refs.append(found[keep])
        distances.append(found_distances[keep])
    query_rows, ref_rows = np.concatenate(rows), np.concatenate(refs).astype(np.int64)
    distance = np.concatenate(distances).astype(np.int64)
    order = np.lexsort((distance, ref_rows, query_rows))
    query_rows, ref_rows, distance = query_rows[order], ref_rows[order], distance[order]
    first = np.ones(len(order), bool)
    first[1:] = (np.diff(query_rows) != 0) | (np.diff(ref_rows) != 0)
    return query_rows[first], ref_rows[first], distance[first]


def _vote(
    query_t: np.ndarray,
    ref_t: np.ndarray,
    weights: np.ndarray,
    query_rows: np.ndarray,
    config: VideoMatchConfig,
) -> _Line | None:
    """The (offset, speed) bin with the most weight, each query frame voting once per bin."""
    best: _Line | None = None
    steps = round((config.max_speed - config.min_speed) / config.speed_step) + 1
    for speed in np.linspace(config.min_speed, config.max_speed, steps):
        # Two grids half a bin apart, so a line on a bin edge is not split in two.
        for shift in (0.0, 0.5):
            shifted = np.floor((ref_t - speed * query_t) / config.offset_bin_s + shift)
            bins = shifted.astype(np.int64)
            order = np.lexsort((-weights, query_rows, bins))
            sorted_bins, sorted_rows = bins[order], query_rows[order]
            first = np.ones(len(order), bool)
            first[1:] = (np.diff(sorted_bins) != 0) | (np.diff(sorted_rows) != 0)
            unique_bins, inverse = np.unique(sorted_bins[first], return_inverse=True)
            votes = np.bincount(inverse, weights=weights[order][first])
            top = int(np.argmax(votes))
            if best is not None and votes[top] <= best.votes:
                continue
            offset = (unique_bins[top] + 0.5 - shift) * config.offset_bin_s
            far = np.abs((unique_bins + 0.5 - shift) * config.offset_bin_s - offset)
            rival = votes[far >= config.ambiguous_offset_s]
            ambiguous = bool(len(rival) and rival.max() >= config.ambiguous_ratio * votes[top])
            best = _Line(float(offset), float(speed), float(votes[top]), ambiguous)
    return best


def _inliers(
    line: tuple[float, float],
    query_t: np.ndarray,
    ref_t: np.ndarray,
    distance: np.ndarray,
    query_rows: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """Indices of the pairs near the line, per query frame the most similar (then the nearest
    to the line): the nearest alone drifts towards the line it was fitted to."""
    residual = np.abs(ref_t - (line[0] + line[1] * query_t))
    near = np.flatnonzero(residual <= tolerance)
    order = near[np.lexsort((residual[near], distance[near], query_rows[near]))]
    first = np.ones(len(order), bool)
    first[1:] = np.diff(query_rows[order]) != 0
    return order[first]


def _fit(
    query_t: np.ndarray, ref_t: np.ndarray, weights: np.ndarray, config: VideoMatchConfig
) -> tuple[float, float]:
    """Weighted least-squares (offset, speed), the speed clipped to the allowed range. Most
    copies play at their original speed, and a pan shifts each shot's best frames by a small lag
    of its own that tilts a free fit: speed 1 is kept unless the free line explains clearly more
    frames."""
    unit_offset = float(np.average(ref_t - query_t, weights=weights))
    if np.ptp(query_t) <= 0:
        return unit_offset, 1.0
    speed = float(
        np.clip(np.polyfit(query_t, ref_t, 1, w=weights)[0], config.min_speed, config.max_speed)
    )
    offset = float(np.average(ref_t - speed * query_t, weights=weights))
    tight = config.inlier_tolerance_s / 2
    free = int((np.abs(ref_t - offset - speed * query_t) <= tight).sum())
    unit = int((np.abs(ref_t - unit_offset - query_t) <= tight).sum())
    return (unit_offset, 1.0) if unit >= config.unit_speed_share * free else (offset, speed)


def _distinct(hashes: np.ndarray, static_distance: int) -> int:
    """How many hashes remain when each within `static_distance` of the last kept is dropped."""
    kept = 0
    last: np.ndarray | None = None
    for row in hashes:
        if last is None or int(np.bitwise_count(np.bitwise_xor(row, last)).sum()) > static_distance:
            kept += 1
            last = row
    return kept


def _split(times: np.ndarray, max_gap_s: float) -> list[np.ndarray]:
    """Positions of sorted `times`, cut wherever consecutive times are more than a gap apart."""
    cuts = np.flatnonzero(np.diff(times) > max_gap_s) + 1
    return np.split(np.arange(len(times)), cuts)


@dataclass(frozen=True)
class _Found:
    segments: list[Segment]
    pairs: list[FramePair]
    covered_query: int
    covered_reference: int
    main: tuple[float, float]
    ambiguous: bool


@dataclass(frozen=True)
class _Pairs:
    """Candidate frame pairs as columns."""

    query_rows: np.ndarray
    ref_rows: np.ndarray
    distance: np.ndarray
    query_t: np.ndarray
    ref_t: np.ndarray
    weights: np.ndarray


def _line_inliers(
    pairs: _Pairs, live: np.ndarray, line: _Line, config: VideoMatchConfig
) -> tuple[np.ndarray, tuple[float, float]]:
    """The live pairs on the voted line, refitted twice, in query time order; and the line."""
    fitted = (line.offset, line.speed)
    chosen = live[:0]
    for _refit in range(2):
        near = _inliers(
            fitted,
            pairs.query_t[live],
            pairs.ref_t[live],
            pairs.distance[live],
            pairs.query_rows[live],
            config.inlier_tolerance_s,
        )
        chosen = live[near]
        if len(chosen) < 2:
            break
        fitted = _fit(pairs.query_t[chosen], pairs.ref_t[chosen], pairs.weights[chosen], config)
    return chosen[np.argsort(pairs.query_t[chosen])], fitted


def _is_segment(
    members: np.ndarray, pairs: _Pairs, reference: FrameHashes, config: VideoMatchConfig
) -> bool:
    """Enough frames, seconds and distinct reference content (not one frame held)."""
    seconds = pairs.query_t[members[-1]] - pairs.query_t[members[0]]
    return (
        len(members) >= config.min_segment_frames
        and seconds >= config.min_segment_s
        and _distinct(reference.hashes[pairs.ref_rows[members]], config.static_distance)
        >= config.min_distinct_frames
    )


def _align(
    query: FrameHashes,
    variants: list[np.ndarray],
    reference: FrameHashes,
    index: faiss.IndexBinaryFlat,
    config: VideoMatchConfig,
) -> _Found | None:
    query_rows, ref_rows, distance = _candidate_pairs(variants, index, config)
    pairs = _Pairs(
        query_rows=query_rows,
        ref_rows=ref_rows,
        distance=distance,
        query_t=query.times_s[query_rows],
        ref_t=reference.times_s[ref_rows],
        weights=1.0 - distance / (config.match_distance + 1.0),
    )
    available = np.ones(len(query), bool)
    segments: list[Segment] = []
    aligned: list[FramePair] = []
    covered_refs: set[int] = set()
    main: tuple[float, float, int] | None = None
    ambiguous = False
    for _ in range(config.max_segments):
        live = np.flatnonzero(available[query_rows])
        if len(live) < config.min_segment_frames:
            break
        line = _vote(
            pairs.query_t[live], pairs.ref_t[live], pairs.weights[live], query_rows[live], config
        )
        if line is None:
            break
        chosen, (offset, speed) = _line_inliers(pairs, live, line, config)
        available[query_rows[chosen]] = False
        for piece in _split(pairs.query_t[chosen], config.max_gap_s):
            members = chosen[piece]
            if not len(members) or not _is_segment(members, pairs, reference, config):
                continue
            times = pairs.query_t[members]
            start, end = float(times[0]), float(times[-1])
            segments.append(
                Segment(
                    start, end, offset + speed * start, offset + speed * end, speed, len(members)
                )
            )
            aligned.extend(
                FramePair(float(q), float(offset + speed * q), int(d))
                for q, d in zip(times, distance[members], strict=True)
            )
            covered_refs.update(ref_rows[members].tolist())
            if main is None or len(members) > main[2]:
                main, ambiguous = (offset, speed, len(members)), line.ambiguous
    if main is None:
        return None
    segments.sort(key=lambda segment: segment.start_s)
    aligned.sort(key=lambda pair: pair.query_time_s)
    return _Found(segments, aligned, len(aligned), len(covered_refs), main[:2], ambiguous)


def video_match(
    query: VideoFingerprint,
    reference: VideoFingerprint,
    config: VideoMatchConfig = DEFAULT_CONFIG,
) -> VideoAlignment | None:
    """The alignment of `query` with `reference`, or None when it does not show the reference."""
    query_rows = query.frames.usable(config.min_quality)
    ref_rows = reference.frames.usable(config.min_quality)
    if len(query_rows) < config.min_segment_frames or len(ref_rows) < config.min_segment_frames:
        return None
    query_frames, ref_frames = query.frames.take(query_rows), reference.frames.take(ref_rows)
    index = faiss.IndexBinaryFlat(PDQ_BITS)
    index.add(np.ascontiguousarray(ref_frames.hashes))
    best: VideoAlignment | None = None
    for mirrored, variants in _query_variants(query_frames):
        found = _align(query_frames, variants, ref_frames, index, config)
        if found is None:
            continue
        score = found.covered_query / len(query_frames)
        reference_fraction = found.covered_reference / len(ref_frames)
        if score < config.min_query_fraction and reference_fraction < config.min_reference_fraction:
            continue
        if best is None or score > best.score:
            best = VideoAlignment(
                offset_s=found.main[0],
                speed=found.main[1],
                mirrored=mirrored,
                segments=tuple(found.segments),
                pairs=tuple(found.pairs),
                score=score,
                reference_fraction=reference_fraction,
                ambiguous=found.ambiguous,
            )
    return best


@dataclass(frozen=True)
class FrameMatch:
    """A still found in a video: the frame's time, stream index and Hamming distance."""

    time_s: float
    frame_number: int
    distance: int


@dataclass(frozen=True)
class ImageSpan:
    """A stretch of video showing a still: first and last matching frame times, best frame."""

    start_s: float
    end_s: float
    best: FrameMatch


def _frame_distances(image_hashes: np.ndarray, frames: FrameHashes) -> np.ndarray:
    """Per frame, the smallest distance to any of the still's hashes (e.g. its 8 dihedral ones)
    through the frame's hashes as posted and with bands trimmed."""
    stills = np.asarray(image_hashes, np.uint8).reshape(-1, PDQ_BITS // 8)
    best = np.full(len(frames), PDQ_BITS, np.int64)
    for hashes in (frames.hashes, frames.content):
        if hashes is None:
            continue
        for still in stills:
            best = np.minimum(best, hamming_rows(hashes, still[None, :]))
    return best


def image_spans(
    image_hashes: np.ndarray,
    video: VideoFingerprint,
    config: VideoMatchConfig = DEFAULT_CONFIG,
) -> list[ImageSpan]:
    """Where a still (its hash, or its 8 dihedral hashes) appears in the video, in video time:
    an image reference reused in a query video, or a query image that is a reference frame."""
    frames = video.frames
    distance = _frame_distances(image_hashes, frames)
    hit = np.flatnonzero(
        (distance <= config.frame_distance) & (frames.qualities >= PDQ_MIN_QUALITY)
    )
    spans: list[ImageSpan] = []
    for piece in _split(frames.times_s[hit], config.max_gap_s):
        if not len(piece):
            continue
        rows = hit[piece]
        top = int(rows[np.argmin(distance[rows])])
        best = FrameMatch(
            float(frames.times_s[top]), int(frames.frame_numbers[top]), int(distance[top])
        )
        spans.append(
            ImageSpan(float(frames.times_s[rows[0]]), float(frames.times_s[rows[-1]]), best)
        )
    return spans


def frame_lookup(
    image_hashes: np.ndarray,
    reference: VideoFingerprint,
    config: VideoMatchConfig = DEFAULT_CONFIG,
) -> FrameMatch | None:
    """The reference frame nearest a still ("a frame of video X at 01:23"), if within
    `frame_distance`."""
    spans = image_spans(image_hashes, reference, config)
    return min((span.best for span in spans), key=lambda match: match.distance, default=None)
