"""Video references: fingerprinted once at intake, matched in time against a query video.

A reference video is a `Reference` like an image, plus a `ReferenceVideo` row naming its
temporal fingerprint (factcheck.core.video_fingerprint: a PDQ hash per frame, shots, keyframes),
stored content-addressed as a file. Its `Fingerprint` row (PDQ, descriptor embedding, local
features) describes its poster keyframe, so the image indexes find the video from a still too.

Frames are decoded once, streamed (mediastore.videos.iter_frames, with intake's limits), hashed
and, every `sample_every_s`, kept as a smaller sample for whoever needs pictures of the video
(the poster here; detection and edit localisation in the analysis).

Matching a query video reads the stored fingerprints through a per-process cache (a fingerprint
is immutable; the cache follows the table's rows) and aligns the query with each in time
(factcheck.core.video_match). That is an exact scan over the reference videos: fine for the
thousands of originals a newsroom curates, and the place a frame-hash index would go for more.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from factcheck.core.features import mirror_matrix
from factcheck.core.fingerprints import PDQ_BITS, pdq_dihedral_hashes
from factcheck.core.localize import aligned_reference, localize_edits
from factcheck.core.matcher import VERIFIED_BY_DENSE, VERIFIED_BY_FEATURES, VERIFIED_BY_TIME
from factcheck.core.video_fingerprint import VideoFingerprint, video_fingerprint
from factcheck.core.video_localize import (
    MAX_SPAN_REGIONS,
    ChangedSpan,
    FrameEdit,
    FramePair,
    SpatialAlignment,
    bridged_segments,
    changed_spans,
    frame_edits,
    refine_spans,
    spatial_alignment,
    split_segments,
)
from factcheck.core.video_match import VideoAlignment, frame_lookup, image_spans, video_match
from factcheck.indexing import PDQ_INDEX, index_reader
from factcheck.models import Reference, ReferenceVideo
from factcheck.reference_source import ReferenceMissing, reference_summary, stored_references
from mediastore.services import media_read
from mediastore.videos import VideoFrame, iter_frames

VIDEO_FINGERPRINT_PREFIX = "video-fingerprints/v1"
# Frames are hashed and sampled at most this large (PDQ reads a 512-px grid anyway).
FRAME_MAX_SIDE = 512
# Samples for pictures of a video: at most this many, evenly spread in time.
MAX_SAMPLES = 120
MAX_VIDEO_MATCHES = 3
# The original's frames compared with each query frame (the nearest to the aligned time and
# its neighbour), and with a still found in it (the nearest hash and two each side).
FRAMES_COMPARED = 2
STILL_FRAMES_COMPARED = 5
NEAR_WINDOW_S = 1.0
# Image references in a query video: frames looked up in the image PDQ index, candidates per
# lookup, and the distance a frame and a still match at (PDQ's, and vPDQ's, usual 31).
STILL_PROBES = 24
STILL_CANDIDATES = 5
STILL_MATCH_DISTANCE = 31  # frames further than this from an asked time are never kept for it


@dataclass
class VideoRead:
    """One decoding pass over a video: its fingerprint and the sampled frames (time, RGB)."""

    fingerprint: VideoFingerprint
    samples: list[tuple[float, np.ndarray]] = field(default_factory=list)

    def sample_near(self, time_s: float) -> np.ndarray:
        """The sampled frame nearest `time_s` (there is always one: the first frame)."""
        return min(self.samples, key=lambda sample: abs(sample[0] - time_s))[1]


def sample_interval(duration_s: float, every_s: float) -> float:
    """`every_s`, widened so a long video yields at most MAX_SAMPLES samples."""
    return max(every_s, duration_s / MAX_SAMPLES)


def _tapped(
    frames: Iterator[VideoFrame], every_s: float, samples: list[tuple[float, np.ndarray]]
) -> Iterator[VideoFrame]:
    next_sample = 0.0
    for frame in frames:
        if frame.time_s >= next_sample:
            samples.append((frame.time_s, frame.rgb))
            next_sample = frame.time_s + every_s
        yield frame


def video_read(content: bytes, *, fps: float, sample_every_s: float) -> VideoRead:
    """Decode, fingerprint and sample a video that passed intake (raises VideoRejected at a
    decoding limit)."""
    samples: list[tuple[float, np.ndarray]] = []
    frames = _tapped(iter_frames(content, max_side=FRAME_MAX_SIDE), sample_every_s, samples)
    fingerprint = video_fingerprint(frames, fps=fps or None)
    return VideoRead(fingerprint, samples)


def video_fingerprint_storage_name(sha256: str) -> str:
    return f"{VIDEO_FINGERPRINT_PREFIX}/{sha256[:2]}/{sha256}.npz"


def video_fingerprint_store(sha256: str, fingerprint: VideoFingerprint) -> str:
    """Write the fingerprint file (content-addressed: an existing one is the same)."""
    name = video_fingerprint_storage_name(sha256)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(fingerprint.to_bytes()))
        if saved != name:
            default_storage.delete(saved)
    return name


def poster_storage_name(sha256: str) -> str:
    return f"{VIDEO_FINGERPRINT_PREFIX}/{sha256[:2]}/{sha256}-poster.png"


def poster_store(sha256: str, poster: np.ndarray) -> str:
    """Write the poster keyframe (lossless: its local features are computed from it again)."""
    name = poster_storage_name(sha256)
    if not default_storage.exists(name):
        ok, encoded = cv2.imencode(".png", np.ascontiguousarray(poster[:, :, ::-1]))
        if not ok:
            raise RuntimeError("PNG encoding of a poster failed")
        saved = default_storage.save(name, ContentFile(encoded.tobytes()))
        if saved != name:
            default_storage.delete(saved)
    return name


def poster_time(fingerprint: VideoFingerprint) -> float:
    """The first keyframe's time (0 for a video without one)."""
    times = fingerprint.keyframe_times_s
    return float(times[0]) if len(times) else 0.0


class _FingerprintCache:
    """Stored fingerprints by reference id, loaded once per process and file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[int, tuple[str, VideoFingerprint]] = {}

    def current(self) -> dict[int, VideoFingerprint]:
        rows = dict(ReferenceVideo.objects.values_list("reference_id", "fingerprint_file"))
        with self._lock:
            for ref_id in set(self._loaded) - set(rows):
                del self._loaded[ref_id]
            missing = {r: f for r, f in rows.items() if self._loaded.get(r, ("",))[0] != f}
        for ref_id, name in missing.items():
            with default_storage.open(name, "rb") as handle:
                loaded = VideoFingerprint.from_bytes(handle.read())
            with self._lock:
                self._loaded[ref_id] = (name, loaded)
        with self._lock:
            return {ref_id: self._loaded[ref_id][1] for ref_id in rows if ref_id in self._loaded}


_cache = _FingerprintCache()


@dataclass(frozen=True)
class VideoMatchFound:
    reference_id: int
    alignment: VideoAlignment


def video_matches(query: VideoFingerprint) -> list[VideoMatchFound]:
    """The reference videos `query` aligns with in time, best first (at most MAX_VIDEO_MATCHES)."""
    found = []
    for ref_id, reference in _cache.current().items():
        alignment = video_match(query, reference)
        if alignment is not None:
            found.append(VideoMatchFound(ref_id, alignment))
    found.sort(key=lambda match: (-match.alignment.score, match.reference_id))
    return found[:MAX_VIDEO_MATCHES]


def frames_near(
    content: bytes, times_s: Sequence[float], *, per_time: int = 1
) -> dict[float, list[tuple[float, np.ndarray]]]:
    """For each of `times_s`, the `per_time` frames of the video nearest it, nearest first, as
    (frame time, RGB at FRAME_MAX_SIDE): one decoding pass, frames kept only when asked for."""
    wanted = sorted(set(times_s))
    near: dict[float, list[tuple[float, np.ndarray]]] = {asked: [] for asked in wanted}
    if not wanted:
        return near
    cursor = 0
    for frame in iter_frames(content, max_side=FRAME_MAX_SIDE):
        # Frames arrive in time order: each asked time keeps the closest frames seen so far.
        while cursor < len(wanted) and wanted[cursor] < frame.time_s - NEAR_WINDOW_S:
            cursor += 1
        if cursor >= len(wanted):
            break
        for asked in wanted[cursor:]:
            if asked > frame.time_s + NEAR_WINDOW_S:
                break
            kept = near[asked]
            kept.append((frame.time_s, frame.rgb))
            kept.sort(key=functools.partial(_time_gap, asked))
            del kept[per_time:]
    return {asked: kept for asked, kept in near.items() if kept}


def _time_gap(asked: float, entry: tuple[float, np.ndarray]) -> float:
    return abs(entry[0] - asked)


def _closest(
    query: np.ndarray,
    frames: list[tuple[float, np.ndarray]],
    view: Callable[[np.ndarray], np.ndarray],
    spatial: SpatialAlignment,
) -> tuple[float, np.ndarray]:
    """(time, frame) of the frame that differs least from `query` under `spatial`."""
    return min(frames, key=lambda entry: _difference(query, view(entry[1]), spatial.transform))


def reference_time(
    segments: Sequence[tuple[float, float, float, float]], time_s: float
) -> float | None:
    """The original's time at query time `time_s`, through the aligned stretch (query start,
    end, reference start, end) holding it."""
    for start, end, ref_start, ref_end in segments:
        if start <= time_s <= end:
            rate = (ref_end - ref_start) / (end - start) if end > start else 1.0
            return ref_start + (time_s - start) * rate
    return None


def _stretches(alignment: VideoAlignment) -> list[tuple[float, float, float, float]]:
    """The alignment's segments as (query start, end, reference start, end), gaps on one line
    bridged (factcheck.core.video_localize.bridged_segments)."""
    return bridged_segments(
        [(s.start_s, s.end_s, s.ref_start_s, s.ref_end_s) for s in alignment.segments]
    )


def _scaled_region(region: dict[str, Any], scale: float) -> dict[str, Any]:
    return {**region, "bbox": [round(float(v) * scale, 1) for v in region["bbox"]]}


def _localised(
    read: VideoRead, found: VideoMatchFound, reference: Reference, interval_s: float
) -> tuple[list[ChangedSpan], list[FrameEdit], SpatialAlignment | None]:
    """Compare the sampled query frames inside the aligned segments with the original's frames
    at the aligned times."""
    segments = _stretches(found.alignment)
    asked = [
        (time_s, rgb, ref_time)
        for time_s, rgb in read.samples
        if (ref_time := reference_time(segments, time_s)) is not None
    ]
    near = frames_near(
        media_read(reference.media), [ref for _, _, ref in asked], per_time=FRAMES_COMPARED
    )
    pairs = [
        FramePair(
            time_s,
            ref_time,
            rgb,
            near[ref_time][0][1],
            tuple(frame for _, frame in near[ref_time][1:]),
        )
        for time_s, rgb, ref_time in asked
        if ref_time in near
    ]
    spatial = spatial_alignment(pairs, mirrored=found.alignment.mirrored)
    if spatial is None:
        return [], [], None
    edits = frame_edits(pairs, spatial)
    distances = [(pair.query_time_s, pair.distance) for pair in found.alignment.pairs]
    spans = refine_spans(
        changed_spans(edits, interval_s=interval_s), distances, interval_s=interval_s
    )
    return spans, edits, spatial


def video_report_matches(*, read: VideoRead, interval_s: float, scale: float) -> list[dict]:
    """The report's `matches` for a query video: each reference video it aligns with in time,
    best first, the best one localised frame by frame; then image references shown in it
    (`video_still_matches`). `scale` maps the sampled frames' pixels to the query's full size
    (regions are in query pixels)."""
    found = video_matches(read.fingerprint)
    references = Reference.objects.in_bulk([match.reference_id for match in found])
    items = []
    for rank, match in enumerate(m for m in found if m.reference_id in references):
        reference = references[match.reference_id]
        alignment = match.alignment
        spans, edits, spatial = (
            _localised(read, match, reference, interval_s) if rank == 0 else ([], [], None)
        )
        scaled = [
            ChangedSpan(
                s.start_s, s.end_s, tuple(_scaled_region(r, scale) for r in s.regions), s.frames
            )
            for s in spans
        ]
        segments = split_segments(_stretches(alignment), scaled)
        regions = [region for span in scaled for region in span.regions]
        items.append(
            {
                "reference": reference_summary(reference),
                "similarity": round(float(alignment.score), 4),
                "inliers": spatial.inliers if spatial is not None else 0,
                "aligned_frames": sum(s.frames for s in alignment.segments),
                "verified_by": VERIFIED_BY_TIME,
                "mirrored": bool(alignment.mirrored),
                "offset_s": round(float(alignment.offset_s), 3),
                "speed": round(float(alignment.speed), 4),
                "reference_fraction": round(float(alignment.reference_fraction), 4),
                "segments": segments,
                "edited": bool(spans),
                "edited_fraction": round(
                    max((e.edited_fraction for e in edits if e.edited), default=0.0), 4
                ),
                "regions": sorted(regions, key=lambda r: -float(r.get("area_fraction", 0)))[
                    :MAX_SPAN_REGIONS
                ],
                "localised": spatial is not None,
            }
        )
    matched = {match.reference_id for match in found}
    pdq_index = index_reader(PDQ_INDEX).get()
    items += video_still_matches(read=read, pdq_index=pdq_index, skip=matched, scale=scale)
    return items


@dataclass(frozen=True)
class FrameMatchFound:
    """An image found to be a frame of a reference video: the report item, its edit mask and
    the frame aligned to the image (as for image matches)."""

    item: dict[str, Any]
    edit_mask: np.ndarray
    aligned_reference: np.ndarray


def _frame_match(
    image: np.ndarray, reference: Reference, time_s: float, similarity: float
) -> FrameMatchFound | None:
    # In a slow pan or a still shot the frame whose hash is nearest need not be the one posted:
    # its neighbours are compared too.
    near = frames_near(media_read(reference.media), [time_s], per_time=STILL_FRAMES_COMPARED)
    frames = near.get(time_s)
    if not frames:
        return None
    pair = [FramePair(0.0, 0.0, image, frames[0][1])]
    spatial = spatial_alignment(pair, mirrored=None)
    if spatial is None:
        return None
    # The frame that differs least from the image under that alignment is the one posted.
    view = functools.partial(_mirrored, mirrored=spatial.mirrored)
    frame_time_s, frame = _closest(image, frames, view, spatial)
    found = localize_edits(image, view(frame), spatial.transform)
    transform = found.transform if found.transform is not None else spatial.transform
    if spatial.mirrored:  # the report's transform maps the original itself, mirror included
        transform = transform @ mirror_matrix(frame.shape[1])
    transform = transform / transform[2, 2]
    item = {
        "reference": reference_summary(reference),
        "similarity": round(similarity, 4),
        "inliers": spatial.inliers,
        "transform": [[round(float(v), 6) for v in row] for row in transform],
        "edited": bool(found.edited),
        "edited_fraction": round(float(found.edited_fraction), 4),
        "regions": found.regions,
        "mirrored": spatial.mirrored,
        "verified_by": VERIFIED_BY_FEATURES
        if spatial.verified_by == "features"
        else VERIFIED_BY_DENSE,
        "frame_time_s": round(frame_time_s, 3),
    }
    return FrameMatchFound(item, found.edit_mask, aligned_reference(frame, transform, image.shape))


def _difference(image: np.ndarray, reference: np.ndarray, transform: np.ndarray) -> float:
    """Mean absolute grey difference of `image` and `reference` warped onto it, where both are."""
    warped = aligned_reference(reference, transform, image.shape)
    inside = warped.any(axis=2)
    if not inside.any():
        return float("inf")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    warped_grey = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(grey - warped_grey)[inside].mean())


def _mirrored(frame: np.ndarray, mirrored: bool) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1]) if mirrored else frame


def video_frame_matches(image: np.ndarray, *, skip: set[int]) -> list[FrameMatchFound]:
    """Reference videos one of whose frames `image` is ("a frame of video X at 01:23"), best
    first: found by the frame hashes (the image's 8 dihedral PDQ hashes), verified and compared
    like an image match against that frame. References in `skip` (already matched) are left
    out."""
    videos = _cache.current()
    if not videos:
        return []
    hashes, _ = pdq_dihedral_hashes(image)
    found = []
    for ref_id, fingerprint in videos.items():
        if ref_id in skip:
            continue
        frame = frame_lookup(hashes, fingerprint)
        if frame is not None:
            found.append((frame.distance, ref_id, frame.time_s))
    found.sort()
    references = Reference.objects.in_bulk([ref_id for _, ref_id, _ in found[:MAX_VIDEO_MATCHES]])
    matches = []
    for distance, ref_id, time_s in found[:MAX_VIDEO_MATCHES]:
        if ref_id not in references:
            continue
        similarity = 1.0 - distance / PDQ_BITS
        match = _frame_match(image, references[ref_id], time_s, similarity)
        if match is not None:
            matches.append(match)
    return matches


def _probe_rows(read: VideoRead) -> np.ndarray:
    """Query frames whose hashes are looked up among the image references: the keyframes and
    usable frames spread over the video, at most STILL_PROBES."""
    usable = read.fingerprint.frames.usable()
    if not len(usable):
        return usable
    spread = usable[np.linspace(0, len(usable) - 1, min(STILL_PROBES, len(usable))).astype(int)]
    keyframes = np.intersect1d(read.fingerprint.keyframes, usable)
    return np.unique(np.concatenate([keyframes, spread]))[: 2 * STILL_PROBES]


def video_still_matches(
    *, read: VideoRead, pdq_index: Any, skip: set[int], scale: float
) -> list[dict[str, Any]]:
    """Image references shown in a query video (a still reused in it): candidates from the image
    PDQ index by the query's frame hashes, the stretches of the video that show each found by
    its dihedral hashes (`image_spans`), verified and compared on the sampled frame nearest its
    best frame. `matches` items with `"still": true` and segments without original times."""
    if pdq_index is None or not len(pdq_index) or not read.samples:
        return []
    frames = read.fingerprint.frames
    rows = _probe_rows(read)
    if not len(rows):
        return []
    hashes = np.concatenate(
        [frames.hashes[rows]] + ([] if frames.mirrored is None else [frames.mirrored[rows]])
    )
    ids, distances = pdq_index.search(hashes, STILL_CANDIDATES)
    videos = set(ReferenceVideo.objects.values_list("reference_id", flat=True))
    best: dict[int, int] = {}
    for ref_id, distance in zip(ids.ravel().tolist(), distances.ravel().tolist(), strict=True):
        if ref_id >= 0 and distance <= STILL_MATCH_DISTANCE and ref_id not in videos | skip:
            best[ref_id] = min(distance, best.get(ref_id, distance))
    chosen = sorted(best, key=lambda ref_id: (best[ref_id], ref_id))[:MAX_VIDEO_MATCHES]
    references = Reference.objects.in_bulk(chosen)
    items = []
    for ref_id in chosen:
        if ref_id not in references:
            continue
        try:
            still = stored_references().load_reference_image(ref_id)
        except ReferenceMissing:
            continue
        item = _still_item(read, references[ref_id], still, best[ref_id], scale)
        if item is not None:
            items.append(item)
    return items


def _still_item(
    read: VideoRead, reference: Reference, still: np.ndarray, distance: int, scale: float
) -> dict[str, Any] | None:
    dihedral, _ = pdq_dihedral_hashes(still)
    spans = image_spans(dihedral, read.fingerprint)
    if not spans:
        return None
    shown = max(spans, key=lambda span: span.end_s - span.start_s)
    frame = read.sample_near(shown.best.time_s)
    spatial = spatial_alignment([FramePair(shown.best.time_s, 0.0, frame, still)], mirrored=None)
    if spatial is None:
        return None
    found = localize_edits(frame, _mirrored(still, spatial.mirrored), spatial.transform)
    regions = [_scaled_region(region, scale) for region in found.regions] if found.edited else []
    return {
        "reference": reference_summary(reference),
        "similarity": round(1.0 - distance / PDQ_BITS, 4),
        "inliers": spatial.inliers,
        "verified_by": VERIFIED_BY_FEATURES
        if spatial.verified_by == "features"
        else VERIFIED_BY_DENSE,
        "mirrored": spatial.mirrored,
        "still": True,
        "segments": [
            {
                "start_s": round(span.start_s, 3),
                "end_s": round(span.end_s, 3),
                "ref_start_s": None,
                "ref_end_s": None,
                "edited": bool(found.edited) and span is shown,
                "regions": regions if span is shown else [],
            }
            for span in spans
        ],
        "edited": bool(found.edited),
        "edited_fraction": round(float(found.edited_fraction), 4),
        "regions": regions,
    }
