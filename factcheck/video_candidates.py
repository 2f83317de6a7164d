"""The reference videos worth comparing exactly with a query, from the published video indexes.

A query video's frames vote in the `video_frames` index and its sampled frames' embeddings in
the `video_samples` index (factcheck.core.video_candidates); a still's dihedral hashes look its
frame up in `video_frames`. Only the best FACTCHECK_VIDEO_CANDIDATES references are then loaded
(factcheck.video_store.stored_videos) and aligned exactly. Like image matching, this sees what
the published versions hold: a reference video is searchable once the index update that its
commit enqueues has published it.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings

from factcheck.core.index import ClipIndex, PdqIndex, best_distance_per_id
from factcheck.core.layered import LayeredClipIndex, LayeredPdqIndex
from factcheck.core.video_candidates import (
    FRAME_THIN_DISTANCE,
    NEIGHBOURS,
    frame_votes,
    query_hashes,
    query_rows,
    sample_votes,
)
from factcheck.core.video_fingerprint import VideoFingerprint
from factcheck.core.video_match import DEFAULT_CONFIG, VideoMatchConfig
from factcheck.indexing import (
    VIDEO_FRAMES_INDEX,
    VIDEO_SAMPLES_INDEX,
    embedding_space,
    index_reader,
)
from factcheck.video_store import SampleEmbeddings


def candidate_limit() -> int:
    """settings.FACTCHECK_VIDEO_CANDIDATES (the default lives there)."""
    return int(settings.FACTCHECK_VIDEO_CANDIDATES)


def video_frame_candidates(
    query: VideoFingerprint, config: VideoMatchConfig = DEFAULT_CONFIG
) -> list[int]:
    """Reference ids whose indexed frames most query frames come within `match_distance` of
    (plus the thinning's FRAME_THIN_DISTANCE; above the flat size, the multi-index hash's
    radius), most first, at most FACTCHECK_VIDEO_CANDIDATES."""
    rows = query_rows(query.frames, config.min_quality)
    hashes, owners = query_hashes(query.frames, rows)
    index = index_reader(VIDEO_FRAMES_INDEX).get()
    distance = config.match_distance + FRAME_THIN_DISTANCE
    votes = frame_votes(index, hashes, owners, max_distance=distance, primary=len(rows))
    return list(votes)[: candidate_limit()]


def video_sample_candidates(query: SampleEmbeddings) -> list[int]:
    """Reference ids with a sample at least the model's candidate threshold similar to most of
    the query's samples, most first, at most FACTCHECK_VIDEO_CANDIDATES; none while the
    published index holds another space (after a model switch, until it is rebuilt)."""
    store = index_reader(VIDEO_SAMPLES_INDEX)
    index = store.get()
    if not isinstance(index, ClipIndex | LayeredClipIndex) or not len(query.vectors):
        return []
    if index.config.dim != query.vectors.shape[1] or embedding_space(store) != query.tag:
        return []
    votes = sample_votes(index, query.vectors, min_similarity=query.min_similarity)
    return list(votes)[: candidate_limit()]


def still_video_candidates(
    image_hashes: np.ndarray, *, skip: set[int], config: VideoMatchConfig = DEFAULT_CONFIG
) -> list[int]:
    """Reference ids with an indexed frame within `frame_distance` (plus the thinning's
    FRAME_THIN_DISTANCE) of one of a still's hashes (its 8 dihedral ones, the first as posted),
    nearest first, those in `skip` left out, at most FACTCHECK_VIDEO_CANDIDATES."""
    index = index_reader(VIDEO_FRAMES_INDEX).get()
    if not isinstance(index, PdqIndex | LayeredPdqIndex) or not len(index):
        return []
    ids, distances = index.search(image_hashes, NEIGHBOURS, primary=1)
    best = best_distance_per_id(ids, distances, config.frame_distance + FRAME_THIN_DISTANCE)
    return [ref_id for ref_id in best if ref_id not in skip][: candidate_limit()]
