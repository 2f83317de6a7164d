"""Edit localisation over time: the image comparison on aligned frame pairs, grouped into spans.

A query video and its original, once aligned in time (`factcheck.core.video_match`), are compared
frame pair by frame pair with the same difference analysis as images (`localize.localize_edits`):
- one spatial alignment serves the whole pair of videos (a repost's crop, scale, border and mirror
  do not change from frame to frame): the reference -> query homography of the best-verified of a
  few pairs (local features; dense alignment for low-texture footage), refined per frame by the
  comparison itself;
- a frame is changed when its comparison finds edited regions; consecutive changed sampled frames
  form a changed span, and the regions of a span that overlap form one track (where in the frame,
  and how: added, removed, altered, text);
- the aligned stretches are split at the changed spans' ends, so every stretch the report lists
  is either the same as the original or changed.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from factcheck.core.dense import dense_verify
from factcheck.core.features import extract_features, mirror_matrix
from factcheck.core.localize import Localization, LocalizeConfig, localize_edits
from factcheck.core.matcher import VERIFIED_BY_DENSE, VERIFIED_BY_FEATURES
from factcheck.core.verify import verify

# Frame pairs tried for the spatial alignment, spread over the aligned pairs.
ALIGNMENT_TRIALS = 3
# Sampled frames this far apart (in sampling intervals) still belong to one changed span.
SPAN_JOIN_INTERVALS = 1.5
MAX_SPAN_REGIONS = 8
# Frames of a copy need not exist in the original (a speed change, another frame rate): moving
# objects then leave slivers of 0.2-0.3 % of the frame (tune split), which images, compared with
# their own original, never do. A region of a frame counts from 0.5 %.
VIDEO_LOCALIZE = LocalizeConfig(min_region_fraction=0.005, min_edited_fraction=0.005)
# Two aligned stretches on one line (reference times within this of each other's line), at most
# MAX_BRIDGE_S apart, are one stretch with a gap that frame comparison decides about.
BRIDGE_TOLERANCE_S = 0.15
MAX_BRIDGE_S = 10.0
# A change of the picture moves the aligned frames' PDQ distance by at least this many bits on
# average where it starts or ends (a pasted block of 6 % of the frame: 10 to 40; re-encoding
# noise within a shot: 0 to 8).
MIN_DISTANCE_STEP = 6.0


@dataclass(frozen=True)
class FramePair:
    """A sampled query frame and the original's frame nearest the aligned time (RGB uint8; shown
    at `reference_frame_s`), with the original's other frames near it as (time, frame)
    (`alternatives`): a copy whose speed or frame rate differs shows moments between the
    original's frames."""

    time_s: float
    reference_time_s: float
    query: np.ndarray
    reference: np.ndarray
    alternatives: tuple[tuple[float, np.ndarray], ...] = ()
    reference_frame_s: float | None = None


@dataclass(frozen=True)
class FrameEdit:
    time_s: float
    reference_time_s: float
    edited: bool
    edited_fraction: float
    regions: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ChangedSpan:
    start_s: float
    end_s: float
    regions: tuple[dict[str, Any], ...]  # tracks: bbox (query pixels) over the span, kind
    frames: int


@dataclass(frozen=True)
class SpatialAlignment:
    transform: np.ndarray  # 3x3, reference (mirrored when `mirrored`) -> query pixels
    mirrored: bool
    verified_by: str  # matcher.VERIFIED_BY_FEATURES or VERIFIED_BY_DENSE
    inliers: int = 0


def mirrored_view(image: np.ndarray, mirrored: bool) -> np.ndarray:
    """`image` flipped left to right when `mirrored` (contiguous, for OpenCV)."""
    return np.ascontiguousarray(image[:, ::-1]) if mirrored else image


def _trial_rows(count: int) -> list[int]:
    if count <= ALIGNMENT_TRIALS:
        return list(range(count))
    return sorted(
        {round(i * (count - 1) / (ALIGNMENT_TRIALS - 1)) for i in range(ALIGNMENT_TRIALS)}
    )


def spatial_alignment(
    pairs: Sequence[FramePair], *, mirrored: bool | None
) -> SpatialAlignment | None:
    """The reference -> query homography of the best-verified of a few pairs, the reference
    mirrored or not (`mirrored`; None: whichever verifies); dense alignment on the middle pair
    when local features verify none. None when no pair can be aligned (then nothing is
    localised)."""
    orientations = (False, True) if mirrored is None else (mirrored,)
    best: SpatialAlignment | None = None
    rows = _trial_rows(len(pairs))
    for row in rows:
        query_features = extract_features(pairs[row].query)
        for orientation in orientations:
            reference = mirrored_view(pairs[row].reference, orientation)
            found = verify(query_features, extract_features(reference))
            transform = found.transform if found.accepted else None
            if transform is not None and (best is None or found.inliers > best.inliers):
                best = SpatialAlignment(transform, orientation, VERIFIED_BY_FEATURES, found.inliers)
    if best is not None or not rows:
        return best
    middle = pairs[rows[len(rows) // 2]]
    base = bool(mirrored)
    reference = mirrored_view(middle.reference, base)
    dense = dense_verify(middle.query, reference)
    if not dense.accepted or dense.transform is None:
        return None
    transform = dense.transform
    if dense.mirrored:
        # dense_verify's transform maps `reference` itself, its own flip included; the flipped
        # view's pixels reach the same place through that flip.
        transform = transform @ mirror_matrix(reference.shape[1])
    return SpatialAlignment(transform, base != dense.mirrored, VERIFIED_BY_DENSE)


def frame_edits(
    pairs: Sequence[FramePair],
    alignment: SpatialAlignment,
    config: LocalizeConfig = VIDEO_LOCALIZE,
) -> list[FrameEdit]:
    """Each pair compared under `alignment` (refined per frame by the comparison). A frame with
    alternatives keeps the comparison that differs least: an edit differs from every original
    frame near it and from any moment between them, while a copy's frame that shows a moment
    between two of the original's (a speed or frame-rate change) matches the original's motion
    interpolated to that moment (`frame_between`)."""
    edits = []
    for pair in pairs:
        found = _compared(pair, pair.reference, alignment, config)
        # Only a frame that differs needs its other candidates (most frames do not).
        for candidate in _other_candidates(pair) if found.edited else ():
            other = _compared(pair, candidate(), alignment, config)
            if other.edited_fraction < found.edited_fraction:
                found = other
            if not found.edited:
                break
        edits.append(
            FrameEdit(
                time_s=pair.time_s,
                reference_time_s=pair.reference_time_s,
                edited=found.edited,
                edited_fraction=float(found.edited_fraction),
                regions=tuple(found.regions) if found.edited else (),
            )
        )
    return edits


def _other_candidates(pair: FramePair) -> list[Callable[[], np.ndarray]]:
    """The original's other frames near the aligned time, then (made only when asked for) its
    motion interpolated to that time between the nearest frame and a frame on the other side."""
    candidates: list[Callable[[], np.ndarray]] = [
        functools.partial(_same, frame) for _, frame in pair.alternatives
    ]
    shown = pair.reference_frame_s
    if shown is None or shown == pair.reference_time_s:
        return candidates
    for time_s, frame in pair.alternatives:
        if (time_s - pair.reference_time_s) * (shown - pair.reference_time_s) < 0:
            fraction = (pair.reference_time_s - shown) / (time_s - shown)
            candidates.append(functools.partial(frame_between, pair.reference, frame, fraction))
            break
    return candidates


def _same(frame: np.ndarray) -> np.ndarray:
    return frame


def frame_between(first: np.ndarray, second: np.ndarray, fraction: float) -> np.ndarray:
    """The moment `fraction` (0-1) of the way from `first` to `second` (consecutive frames of
    one video, same size): each warped along the dense optical flow between them (DIS, in both
    directions) to that moment, blended by nearness. Made from the original's frames only, so a
    change pasted into a copy is never explained away."""
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (first, second)]
    flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    # None lets OpenCV allocate the flow; the stubs only declare an array there.
    forward = flow.calc(grey[0], grey[1], None)  # type: ignore[call-overload]
    backward = flow.calc(grey[1], grey[0], None)  # type: ignore[call-overload]
    height, width = grey[0].shape
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))

    def warped(frame: np.ndarray, motion: np.ndarray, share: float) -> np.ndarray:
        # A point at x at that moment was at x - share * motion(x) in `frame` (the flow taken
        # at x stands for the flow at its source: smooth motion between adjacent frames).
        return cv2.remap(
            frame,
            xs - share * motion[..., 0],
            ys - share * motion[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ).astype(np.float32)

    blended = (1 - fraction) * warped(first, forward, fraction) + fraction * warped(
        second, backward, 1 - fraction
    )
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _compared(
    pair: FramePair, reference: np.ndarray, alignment: SpatialAlignment, config: LocalizeConfig
) -> Localization:
    view = mirrored_view(reference, alignment.mirrored)
    return localize_edits(pair.query, view, alignment.transform, config)


@dataclass
class _Track:
    box: list[float]  # x0, y0, x1, y1
    kinds: Counter[str] = field(default_factory=Counter)
    area_fraction: float = 0.0

    def overlaps(self, box: Sequence[float]) -> bool:
        return not (
            box[2] < self.box[0]
            or box[0] > self.box[2]
            or box[3] < self.box[1]
            or box[1] > self.box[3]
        )

    def add(self, box: Sequence[float], kind: str, area: float) -> None:
        self.box = [min(self.box[0], box[0]), min(self.box[1], box[1]),
                    max(self.box[2], box[2]), max(self.box[3], box[3])]  # fmt: skip
        self.kinds[kind] += 1
        self.area_fraction = max(self.area_fraction, area)

    def to_dict(self) -> dict[str, Any]:
        x0, y0, x1, y1 = self.box
        return {
            "bbox": [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)],
            "kind": self.kinds.most_common(1)[0][0],
            "area_fraction": round(self.area_fraction, 4),
        }


def _tracks(edits: Sequence[FrameEdit]) -> tuple[dict[str, Any], ...]:
    tracks: list[_Track] = []
    for edit in edits:
        for region in edit.regions:
            x, y, w, h = (float(v) for v in region["bbox"])
            box = (x, y, x + w, y + h)
            kind = str(region.get("kind") or "altered")
            area = float(region.get("area_fraction") or 0.0)
            track = next((t for t in tracks if t.overlaps(box)), None)
            if track is None:
                track = _Track(list(box))
                tracks.append(track)
            track.add(box, kind, area)
    tracks.sort(key=lambda t: -(t.box[2] - t.box[0]) * (t.box[3] - t.box[1]))
    return tuple(t.to_dict() for t in tracks[:MAX_SPAN_REGIONS])


def changed_spans(edits: Sequence[FrameEdit], *, interval_s: float) -> list[ChangedSpan]:
    """Runs of changed sampled frames (no further apart than SPAN_JOIN_INTERVALS samples), each
    reaching half a sampling interval past its first and last changed frame."""
    runs: list[list[FrameEdit]] = []
    for edit in sorted(edits, key=lambda e: e.time_s):
        if not edit.edited:
            continue
        if runs and edit.time_s - runs[-1][-1].time_s <= interval_s * SPAN_JOIN_INTERVALS:
            runs[-1].append(edit)
        else:
            runs.append([edit])
    half = interval_s / 2
    return [
        ChangedSpan(
            start_s=max(0.0, run[0].time_s - half),
            end_s=run[-1].time_s + half,
            regions=_tracks(run),
            frames=len(run),
        )
        for run in runs
    ]


def _step(
    times: np.ndarray, distances: np.ndarray, window: tuple[float, float], candidates: np.ndarray
) -> tuple[float, float] | None:
    """The candidate time that best splits the window's frame distances into a low and a high
    part: (time, mean after - mean before)."""
    inside = (times >= window[0]) & (times <= window[1])
    best: tuple[float, float] | None = None
    for cut in candidates:
        before = distances[inside & (times < cut)]
        after = distances[inside & (times >= cut)]
        if len(before) and len(after):
            rise = float(after.mean() - before.mean())
            if best is None or abs(rise) > abs(best[1]):
                best = (float(cut), rise)
    return best


def refine_spans(
    spans: Sequence[ChangedSpan],
    frame_distances: Sequence[tuple[float, int]],
    *,
    interval_s: float,
) -> list[ChangedSpan]:
    """Changed spans with their ends moved to the frames where the hash distance between query
    and original frames steps up or down (the aligned frames' PDQ distances: a pasted region
    raises them). A change starts after the last unchanged sample and at or before the first
    changed one, so each end is looked for in that one sampling interval; an end without a clear
    step (MIN_DISTANCE_STEP bits) stays halfway, as sampled."""
    if not frame_distances:
        return list(spans)
    ordered = sorted(frame_distances)
    times = np.array([t for t, _ in ordered])
    distances = np.array([d for _, d in ordered], dtype=np.float64)
    refined = []
    for span in spans:
        first = span.start_s + interval_s / 2  # the first and last changed samples
        last = span.end_s - interval_s / 2
        start, end = span.start_s, span.end_s
        rising = times[(times > first - interval_s) & (times <= first)]
        found = _step(
            times, distances, (first - 1.5 * interval_s, min(last, first + interval_s / 2)), rising
        )
        if found is not None and found[1] >= MIN_DISTANCE_STEP:
            start = found[0]
        falling = times[(times > last) & (times <= last + interval_s)]
        found = _step(
            times, distances, (max(first, last - interval_s / 2), last + 1.5 * interval_s), falling
        )
        if found is not None and -found[1] >= MIN_DISTANCE_STEP:
            end = found[0]
        refined.append(ChangedSpan(start, end, span.regions, span.frames))
    return refined


def bridged_segments(
    segments: Sequence[tuple[float, float, float, float]],
) -> list[tuple[float, float, float, float]]:
    """Aligned stretches (query start, end, reference start, end) in query order, with the gap
    between two that lie on one line (the same offset and speed) closed: an edit can change
    frames so much that their hashes no longer line up, and that gap is where to look."""
    bridged: list[tuple[float, float, float, float]] = []
    for start, end, ref_start, ref_end in sorted(segments):
        if bridged:
            p_start, p_end, p_ref_start, p_ref_end = bridged[-1]
            rate = (p_ref_end - p_ref_start) / (p_end - p_start) if p_end > p_start else 1.0
            expected = p_ref_start + (start - p_start) * rate  # the previous line, continued
            gap = start - p_end
            if 0 <= gap <= MAX_BRIDGE_S and abs(ref_start - expected) <= BRIDGE_TOLERANCE_S:
                bridged[-1] = (p_start, end, p_ref_start, ref_end)
                continue
        bridged.append((start, end, ref_start, ref_end))
    return bridged


def split_segments(
    segments: Sequence[tuple[float, float, float, float]], spans: Sequence[ChangedSpan]
) -> list[dict[str, Any]]:
    """The aligned stretches (query start, end, reference start, end) cut at the changed spans:
    report `segments` items, each either the same as the original or changed."""
    out: list[dict[str, Any]] = []
    for start, end, ref_start, ref_end in segments:
        rate = (ref_end - ref_start) / (end - start) if end > start else 1.0
        cuts = {start, end}
        for span in spans:
            cuts.update(t for t in (span.start_s, span.end_s) if start < t < end)
        points = sorted(cuts)
        for a, b in itertools.pairwise(points):
            if b - a <= 1e-6:
                continue
            middle = (a + b) / 2
            inside = [s for s in spans if s.start_s <= middle <= s.end_s]
            out.append(
                {
                    "start_s": round(a, 3),
                    "end_s": round(b, 3),
                    "ref_start_s": round(ref_start + (a - start) * rate, 3),
                    "ref_end_s": round(ref_start + (b - start) * rate, 3),
                    "edited": bool(inside),
                    "regions": [dict(r) for s in inside for r in s.regions],
                }
            )
    return out
