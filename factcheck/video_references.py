"""Matching a query video in time against the reference videos, and the report's matches.

The query's fingerprint is aligned with each stored reference fingerprint
(factcheck.core.video_match). That is an exact scan over the reference videos: fine for the
thousands of originals a newsroom curates, and the place a frame-hash index would go for more.
The best match is compared frame by frame (factcheck.core.video_localize); image references shown
in the video follow (factcheck.video_stills).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from factcheck.core.matcher import VERIFIED_BY_TIME
from factcheck.core.video_fingerprint import VideoFingerprint
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
from factcheck.core.video_match import VideoAlignment, video_match
from factcheck.indexing import PDQ_INDEX, index_reader
from factcheck.models import Reference
from factcheck.reference_source import reference_summary
from factcheck.video_stills import video_still_matches
from factcheck.video_store import (
    VideoRead,
    frames_near,
    scaled_region,
    stored_fingerprints,
)
from mediastore.services import media_read

MAX_VIDEO_MATCHES = 3
# The original's frames compared with each query frame: the nearest to the aligned time and its
# neighbour.
FRAMES_COMPARED = 2


@dataclass(frozen=True)
class VideoMatchFound:
    reference_id: int
    alignment: VideoAlignment


def video_matches(query: VideoFingerprint) -> list[VideoMatchFound]:
    """The reference videos `query` aligns with in time, best first (at most MAX_VIDEO_MATCHES)."""
    found = []
    for ref_id, reference in stored_fingerprints().items():
        alignment = video_match(query, reference)
        if alignment is not None:
            found.append(VideoMatchFound(ref_id, alignment))
    found.sort(key=lambda match: (-match.alignment.score, match.reference_id))
    return found[:MAX_VIDEO_MATCHES]


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
                s.start_s, s.end_s, tuple(scaled_region(r, scale) for r in s.regions), s.frames
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
