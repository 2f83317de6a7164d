"""Stills and videos: an image that is a frame of a reference video, and an image reference
shown in a query video.

Both are found through frame hashes (a still's 8 dihedral PDQ hashes against a video's frame
hashes, `factcheck.core.video_match.frame_lookup` and `image_spans`), then verified and compared
like an image against the frame that shows it (local features, dense alignment for low texture).
The reference videos an image is looked up in are the candidates the `video_frames` index
proposes for its hashes (factcheck.video_candidates).
"""

from __future__ import annotations

import functools
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import numpy as np

from factcheck.core.features import mirror_matrix
from factcheck.core.fingerprints import PDQ_BITS, pdq_dihedral_hashes
from factcheck.core.localize import aligned_reference, localize_edits
from factcheck.core.matcher import Match
from factcheck.core.video_localize import (
    FramePair,
    mirrored_view,
    spatial_alignment,
)
from factcheck.core.video_match import frame_lookup, image_spans
from factcheck.models import Reference, ReferenceVideo
from factcheck.reference_source import (
    ReferenceMissing,
    match_item,
    reference_summary,
    stored_references,
)
from factcheck.video_candidates import still_video_candidates
from factcheck.video_store import (
    VideoRead,
    closest_frame,
    frames_near,
    scaled_region,
    stored_videos,
)
from mediastore.services import media_read

# The original's frames compared with a still found in it (the nearest hash and two each side).
STILL_FRAMES_COMPARED = 5
# Image references in a query video: frames looked up in the image PDQ index, candidates per
# lookup, and the distance a frame and a still match at (PDQ's, and vPDQ's, usual 31).
STILL_PROBES = 24
STILL_CANDIDATES = 5
STILL_MATCH_DISTANCE = 31
MAX_STILL_MATCHES = 3


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
    view = functools.partial(mirrored_view, mirrored=spatial.mirrored)
    frame_time_s, frame = closest_frame(image, frames, view, spatial)
    found = localize_edits(image, view(frame), spatial.transform)
    transform = found.transform if found.transform is not None else spatial.transform
    if spatial.mirrored:  # the report's transform maps the original itself, mirror included
        transform = transform @ mirror_matrix(frame.shape[1])
    match = Match(
        reference_id=reference.pk,
        similarity=similarity,
        inliers=spatial.inliers,
        transform=transform,
        edited=found.edited,
        edited_fraction=found.edited_fraction,
        regions=found.regions,
        edit_mask=found.edit_mask,
        mirrored=spatial.mirrored,
        verified_by=spatial.verified_by,
    )
    item = {**match_item(match, reference), "frame_time_s": round(frame_time_s, 3)}
    return FrameMatchFound(item, found.edit_mask, aligned_reference(frame, transform, image.shape))


def video_frame_matches(
    image: np.ndarray, *, skip: AbstractSet[int] = frozenset()
) -> list[FrameMatchFound]:
    """Reference videos one of whose frames `image` is ("a frame of video X at 01:23"), best
    first: the candidates of the `video_frames` index for the image's 8 dihedral PDQ hashes,
    each looked up in its frames (`frame_lookup`), verified and compared like an image match
    against the frame found. References in `skip` are left out."""
    hashes, _ = pdq_dihedral_hashes(image)
    candidates = still_video_candidates(hashes, skip=set(skip))
    if not candidates:
        return []
    found = []
    for ref_id, video in stored_videos(candidates).items():
        frame = frame_lookup(hashes, video.fingerprint)
        if frame is not None:
            found.append((frame.distance, ref_id, frame.time_s))
    found.sort()
    references = Reference.objects.select_related("media").in_bulk(
        [ref_id for _, ref_id, _ in found[:MAX_STILL_MATCHES]]
    )
    matches = []
    for distance, ref_id, time_s in found[:MAX_STILL_MATCHES]:
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
    best: dict[int, int] = {}
    for ref_id, distance in zip(ids.ravel().tolist(), distances.ravel().tolist(), strict=True):
        if ref_id >= 0 and distance <= STILL_MATCH_DISTANCE and ref_id not in skip:
            best[ref_id] = min(distance, best.get(ref_id, distance))
    # A reference video's poster is in the image index too: it is matched in time instead.
    posters = ReferenceVideo.objects.filter(reference_id__in=list(best))
    for ref_id in posters.values_list("reference_id", flat=True):
        del best[ref_id]
    chosen = sorted(best, key=lambda ref_id: (best[ref_id], ref_id))[:MAX_STILL_MATCHES]
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
    found = localize_edits(frame, mirrored_view(still, spatial.mirrored), spatial.transform)
    regions = [scaled_region(region, scale) for region in found.regions] if found.edited else []
    return {
        "reference": reference_summary(reference),
        "similarity": round(1.0 - distance / PDQ_BITS, 4),
        "inliers": spatial.inliers,
        "verified_by": spatial.verified_by,
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
