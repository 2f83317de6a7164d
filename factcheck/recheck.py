"""Cheap evidence that an earlier submission shows one of the references just indexed.

Moderation re-checks recent submissions when new references are published (moderation.recheck);
these checks decide which of them deserve a full analysis again. They read frame hashes only:
a query video's stored temporal fingerprint against the new reference videos (aligned in time)
and the new image references (their 8 dihedral PDQ hashes found among its frames), and a query
image's dihedral hashes among the new reference videos' frames. Image against image references
is `factcheck.selectors.reference_ids_matching`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from factcheck.core.fingerprints import pdq_dihedral_hashes
from factcheck.core.video_fingerprint import VideoFingerprint
from factcheck.core.video_match import frame_lookup, image_spans, video_match
from factcheck.reference_source import ReferenceMissing, stored_references
from factcheck.video_store import (
    stored_videos,
    video_fingerprint_read,
    video_fingerprint_store,
    video_read,
)
from mediastore.videos import inspect_video

# A query video's fingerprint is read when it was kept at its analysis; otherwise the video is
# decoded again, hashing frames only (samples are never kept: one per this many seconds).
_NO_SAMPLES_S = 1e9


def query_video_fingerprint(*, sha256: str, content: Callable[[], bytes]) -> VideoFingerprint:
    """The temporal fingerprint of a submitted video: as kept at its analysis
    (`query_video_keep`), or decoded again from `content()` and kept."""
    kept = video_fingerprint_read(sha256)
    if kept is not None:
        return kept
    data = content()
    fingerprint = video_read(
        data, fps=inspect_video(data).fps, sample_every_s=_NO_SAMPLES_S
    ).fingerprint
    query_video_keep(sha256=sha256, fingerprint=fingerprint)
    return fingerprint


def query_video_keep(*, sha256: str, fingerprint: VideoFingerprint) -> None:
    """Keep a submitted video's fingerprint (content-addressed, as reference videos' are), so a
    re-check never decodes it again."""
    video_fingerprint_store(sha256, fingerprint)


def video_shows_references(*, fingerprint: VideoFingerprint, reference_ids: Sequence[int]) -> bool:
    """Whether the query video lines up in time with one of the reference videos among
    `reference_ids`, or shows one of its image references."""
    ids = sorted({int(ref_id) for ref_id in reference_ids})
    videos = stored_videos(ids)
    if any(video_match(fingerprint, video.fingerprint) is not None for video in videos.values()):
        return True
    source = stored_references()
    for ref_id in ids:
        if ref_id in videos:
            continue
        try:
            still = source.load_reference_image(ref_id)
        except ReferenceMissing:
            continue
        if image_spans(pdq_dihedral_hashes(still)[0], fingerprint):
            return True
    return False


def image_in_reference_videos(*, image: np.ndarray, reference_ids: Sequence[int]) -> bool:
    """Whether the query image is a frame of one of the reference videos among
    `reference_ids`."""
    videos = stored_videos(reference_ids)
    if not videos:
        return False
    hashes, _ = pdq_dihedral_hashes(image)
    return any(frame_lookup(hashes, video.fingerprint) is not None for video in videos.values())
