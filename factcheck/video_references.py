"""Matching a query video in time against the reference videos, and the report's matches.

Candidates come from the published video indexes (factcheck.video_candidates: the query's frame
hashes vote in `video_frames`, its sampled frames' embeddings in `video_samples`); only those
references' fingerprints are loaded and aligned exactly with the query's
(factcheck.core.video_match). The best match is compared frame by frame
(factcheck.core.video_localize); image references shown in the video follow
(factcheck.video_stills).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from factcheck.core.matcher import VERIFIED_BY_TIME
from factcheck.core.video_localize import (
    MAX_SPAN_REGIONS,
    ChangedSpan,
    FrameEdit,
    FramePair,
    SpatialAlignment,
    bridged_segments,
    changed_spans,
    frame_edits,
    mirrored_view,
    refine_spans,
    spatial_alignment,
    split_segments,
)
from factcheck.core.video_match import Segment, VideoAlignment, video_match
from factcheck.indexing import PDQ_INDEX, index_reader
from factcheck.models import Reference
from factcheck.reference_source import reference_summary
from factcheck.video_candidates import video_frame_candidates, video_sample_candidates
from factcheck.video_stills import video_still_matches
from factcheck.video_store import (
    SampleEmbeddings,
    VideoRead,
    closest_frame,
    frames_near,
    scaled_region,
    stored_videos,
)
from mediastore.services import media_read

MAX_VIDEO_MATCHES = 3
# The learned descriptor on the sampled frames finds copies whose frames PDQ cannot line up (a
# crop changes every frame's hash as much as another picture does): the query's samples vote
# for an offset with their most similar reference samples (of the candidates the sample index
# proposes). A vote needs this many samples, and this share of the query's; the best
# DESCRIPTOR_CANDIDATES references by votes are checked on DESCRIPTOR_CHECKS sample frames
# against the original's frames around the voted time.
MIN_DESCRIPTOR_VOTES = 3
DESCRIPTOR_VOTE_SHARE = 0.3
DESCRIPTOR_CANDIDATES = 2
DESCRIPTOR_CHECKS = 3
DESCRIPTOR_FRAMES_COMPARED = 12  # the original's frames nearest the voted time (±0.5 s at 10 fps)
# The original's frames compared with each query frame: the nearest to the aligned time and its
# neighbour.
FRAMES_COMPARED = 2


@dataclass(frozen=True)
class VideoMatchFound:
    reference_id: int
    alignment: VideoAlignment


def video_matches(read: VideoRead, *, interval_s: float) -> list[VideoMatchFound]:
    """The reference videos the query aligns with in time, best first (at most
    MAX_VIDEO_MATCHES): by the frame hashes; when no reference lines up by them, by the sampled
    frames' global embeddings, verified on the frames (`_descriptor_alignment`). Only the
    candidates of the video indexes are compared."""
    stored = stored_videos(video_frame_candidates(read.fingerprint))
    found = [
        VideoMatchFound(ref_id, alignment)
        for ref_id, video in stored.items()
        if (alignment := video_match(read.fingerprint, video.fingerprint)) is not None
    ]
    if not found:
        # Frames that line up by their hashes are the stronger evidence, and the two scores do
        # not compare: a reference sharing a shot's picture with the query must not outrank it.
        found = _descriptor_matches(read, interval_s)
    found.sort(key=lambda match: (-match.alignment.score, match.reference_id))
    return found[:MAX_VIDEO_MATCHES]


def _descriptor_matches(read: VideoRead, interval_s: float) -> list[VideoMatchFound]:
    if read.embeddings is None:
        return []
    stored = stored_videos(video_sample_candidates(read.embeddings))
    votes = sorted(
        (
            (vote, ref_id)
            for ref_id, video in stored.items()
            if video.embeddings is not None
            and (vote := _descriptor_vote(read.embeddings, video.embeddings, interval_s))
        ),
        key=lambda entry: (-entry[0].votes, entry[1]),
    )[:DESCRIPTOR_CANDIDATES]
    references = Reference.objects.select_related("media").in_bulk([ref_id for _, ref_id in votes])
    found = []
    for vote, ref_id in votes:
        if ref_id in references:
            duration = stored[ref_id].fingerprint.duration_s
            alignment = _descriptor_alignment(read, references[ref_id], vote, interval_s, duration)
            if alignment is not None:
                found.append(VideoMatchFound(ref_id, alignment))
    return found


@dataclass(frozen=True)
class _Vote:
    votes: int
    offset_s: float  # the original's time at query time 0
    times_s: np.ndarray  # query samples whose embedding agrees with that offset


def _descriptor_vote(
    query: SampleEmbeddings, reference: SampleEmbeddings, interval_s: float
) -> _Vote | None:
    """The offset most of the query's samples agree on, each voting with its most similar
    sample of the reference (similarity at least the model's candidate threshold)."""
    if query.tag != reference.tag or not len(query.vectors) or not len(reference.vectors):
        return None
    similarity = query.vectors @ reference.vectors.T
    nearest = similarity.argmax(axis=1)
    agree = similarity[np.arange(len(nearest)), nearest] >= query.min_similarity
    offsets = reference.times_s[nearest] - query.times_s
    bins = np.round(offsets / interval_s).astype(np.int64)
    if not agree.any():
        return None
    values, counts = np.unique(bins[agree], return_counts=True)
    top = values[np.argmax(counts)]
    voters = agree & (np.abs(bins - top) <= 1)
    if voters.sum() < max(MIN_DESCRIPTOR_VOTES, DESCRIPTOR_VOTE_SHARE * len(query.times_s)):
        return None
    return _Vote(int(voters.sum()), float(np.median(offsets[voters])), query.times_s[voters])


def _descriptor_alignment(
    read: VideoRead, reference: Reference, vote: _Vote, interval_s: float, duration_s: float
) -> VideoAlignment | None:
    """A vote confirmed on a few sample frames: the frames must verify in space (local features,
    or dense alignment), and the offset is refined to the original's frame that differs least."""
    rows = np.unique(np.linspace(0, len(vote.times_s) - 1, DESCRIPTOR_CHECKS).astype(int))
    times = [float(vote.times_s[row]) for row in rows]
    near = frames_near(
        media_read(reference.media),
        [time_s + vote.offset_s for time_s in times],
        per_time=DESCRIPTOR_FRAMES_COMPARED,
    )
    pairs = [
        FramePair(time_s, time_s + vote.offset_s, read.sample_near(time_s), frames[0][1])
        for time_s in times
        if (frames := near.get(time_s + vote.offset_s))
    ]
    spatial = spatial_alignment(pairs, mirrored=None)
    if spatial is None:
        return None
    view = functools.partial(mirrored_view, mirrored=spatial.mirrored)
    offset = float(
        np.median(
            [
                closest_frame(pair.query, near[pair.reference_time_s], view, spatial)[0]
                - pair.time_s
                for pair in pairs
            ]
        )
    )
    start = max(0.0, float(vote.times_s.min()) - interval_s / 2)
    end = min(read.fingerprint.duration_s, float(vote.times_s.max()) + interval_s / 2)
    aligned = max(1, round((end - start) * (read.fingerprint.fps or 1.0)))
    segment = Segment(start, end, start + offset, end + offset, 1.0, aligned)
    return VideoAlignment(
        offset_s=offset,
        speed=1.0,
        mirrored=spatial.mirrored,
        segments=(segment,),
        pairs=(),
        score=vote.votes / max(1, len(read.samples)),
        reference_fraction=min(1.0, (end - start) / duration_s) if duration_s > 0 else 0.0,
        ambiguous=False,
    )


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
            tuple(near[ref_time][1:]),
            reference_frame_s=near[ref_time][0][0],
        )
        for time_s, rgb, ref_time in asked
        if near.get(ref_time)
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
    found = video_matches(read, interval_s=interval_s)
    references = Reference.objects.select_related("media").in_bulk(
        [match.reference_id for match in found]
    )
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
