"""Edit localisation over time on aligned frame pairs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from factcheck.core.matcher import VERIFIED_BY_FEATURES
from factcheck.core.video_localize import (
    ChangedSpan,
    FramePair,
    bridged_segments,
    changed_spans,
    frame_between,
    frame_edits,
    refine_spans,
    spatial_alignment,
    split_segments,
)


def _pairs(*, mirrored: bool = False) -> list[FramePair]:
    still = np.ascontiguousarray(data.astronaut())  # 512 x 512
    pairs = []
    for t in range(7):
        # The original pans slowly; the repost is it at 75 % with a block pasted in at 2-4 s.
        reference = np.roll(still, 4 * t, axis=1)
        query = cv2.resize(reference, (384, 384), interpolation=cv2.INTER_AREA)
        if mirrored:
            query = np.ascontiguousarray(query[:, ::-1])
        if 2 <= t <= 4:
            query[40:120, 200:300] = (250, 30, 30)
        pairs.append(FramePair(float(t), t + 10.0, query, reference))
    return pairs


@pytest.mark.parametrize("mirrored", [False, True])
def test_a_pasted_block_is_found_in_its_span_and_where_it_was(mirrored):
    pairs = _pairs(mirrored=mirrored)
    alignment = spatial_alignment(pairs, mirrored=mirrored)
    assert alignment is not None and alignment.verified_by == VERIFIED_BY_FEATURES
    edits = frame_edits(pairs, alignment)
    assert [e.edited for e in edits] == [False, False, True, True, True, False, False]
    (span,) = changed_spans(edits, interval_s=1.0)
    assert (span.start_s, span.end_s, span.frames) == (1.5, 4.5, 3)
    x, y, w, h = span.regions[0]["bbox"]
    assert abs(x - 200) < 12 and abs(y - 40) < 12 and abs(w - 100) < 20 and abs(h - 80) < 20


def test_unrelated_frames_cannot_be_aligned():
    rng = np.random.default_rng(1)
    noise = [
        FramePair(
            0.0,
            0.0,
            rng.integers(0, 255, (200, 200, 3), np.uint8),
            np.zeros((200, 200, 3), np.uint8),
        )
    ]
    assert spatial_alignment(noise, mirrored=False) is None


def test_segments_are_cut_at_changed_spans():
    span = ChangedSpan(
        2.0, 4.0, ({"bbox": [1, 2, 3, 4], "kind": "added", "area_fraction": 0.1},), 3
    )
    parts = split_segments([(0.0, 10.0, 30.0, 40.0)], [span])
    assert [
        (p["start_s"], p["end_s"], p["ref_start_s"], p["ref_end_s"], p["edited"]) for p in parts
    ] == [
        (0.0, 2.0, 30.0, 32.0, False),
        (2.0, 4.0, 32.0, 34.0, True),
        (4.0, 10.0, 34.0, 40.0, False),
    ]
    assert parts[1]["regions"] == [{"bbox": [1, 2, 3, 4], "kind": "added", "area_fraction": 0.1}]
    assert split_segments([(0.0, 5.0, 0.0, 5.0)], []) == [
        {
            "start_s": 0.0,
            "end_s": 5.0,
            "ref_start_s": 0.0,
            "ref_end_s": 5.0,
            "edited": False,
            "regions": [],
        }
    ]


def test_span_ends_move_to_where_the_frame_distances_step():
    # Frames every 0.1 s; the change runs 2.0-5.0 s (distances 30 against 2); samples every 1 s
    # saw it at 2, 3 and 4 s, so the sampled span is 1.5-4.5 s.
    distances = [(t / 10, 30 if 20 <= t < 50 else 2) for t in range(80)]
    sampled = ChangedSpan(1.5, 4.5, (), 3)
    (span,) = refine_spans([sampled], distances, interval_s=1.0)
    assert (span.start_s, span.end_s) == (2.0, 5.0)
    flat = [(t / 10, 3) for t in range(80)]  # no step: the sampled ends stay
    (kept,) = refine_spans([sampled], flat, interval_s=1.0)
    assert (kept.start_s, kept.end_s) == (1.5, 4.5)


def test_a_gap_on_the_same_line_is_bridged_and_a_jump_is_not():
    on_line = [(0.0, 2.9, 1.0, 3.9), (5.0, 6.5, 6.0, 7.5)]
    assert bridged_segments(on_line) == [(0.0, 6.5, 1.0, 7.5)]
    recut = [(0.0, 2.5, 3.5, 6.0), (2.5, 5.0, 0.3, 2.8)]  # the second piece jumps back
    assert bridged_segments(recut) == recut


def _with_disc(still: np.ndarray, x: int) -> np.ndarray:
    frame = still.copy()
    cv2.circle(frame, (x, 300), 40, (255, 230, 0), thickness=-1)
    return frame


def _between_pair(*, pasted: bool, knows_time: bool) -> FramePair:
    """A copy slowed down shows a moment between two of the original's frames: a fast disc
    (30 px per frame) half way; `pasted` adds an edit on top."""
    still = np.ascontiguousarray(data.astronaut())
    first, second = _with_disc(still, 150), _with_disc(still, 180)
    query = _with_disc(still, 165)
    if pasted:
        query[40:120, 200:300] = (250, 30, 30)
    return FramePair(
        1.0,
        10.05,
        query,
        first,
        ((10.1, second),),
        reference_frame_s=10.0 if knows_time else None,
    )


def test_a_moment_between_two_original_frames_is_not_an_edit_but_a_paste_still_is():
    plain = _between_pair(pasted=False, knows_time=True)
    alignment = spatial_alignment([plain], mirrored=False)
    assert alignment is not None
    (blind,) = frame_edits([_between_pair(pasted=False, knows_time=False)], alignment)
    assert blind.edited  # either original frame alone leaves crescents of the disc
    (between,) = frame_edits([plain], alignment)
    assert not between.edited, between.regions
    (pasted,) = frame_edits([_between_pair(pasted=True, knows_time=True)], alignment)
    assert pasted.edited
    x, y = pasted.regions[0]["bbox"][:2]
    assert abs(x - 200) < 12 and abs(y - 40) < 12


def test_the_frame_between_follows_the_motion():
    still = np.ascontiguousarray(data.astronaut())
    made = frame_between(_with_disc(still, 150), _with_disc(still, 180), 0.5)
    truth = _with_disc(still, 165)

    def wrong_pixels(image: np.ndarray) -> int:
        return int((np.abs(image.astype(int) - truth).max(axis=2) > 40).sum())

    assert wrong_pixels(made) < 0.6 * wrong_pixels(_with_disc(still, 150))
