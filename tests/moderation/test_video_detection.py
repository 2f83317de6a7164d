"""Detection over time: face tracks, the video's probability and reasons that name times."""

from __future__ import annotations

import numpy as np
import pytest

from detection.selectors import DetectionOutcome
from moderation import video_detection
from moderation.clock import clock
from moderation.video_calibration import aggregate_features, stored_calibration
from moderation.video_detection import (
    face_tracks_link,
)
from moderation.video_detection import (
    video_detection as detect,
)


def test_tracks_follow_overlapping_faces_and_split_on_gaps_and_jumps():
    samples = [
        (
            0.0,
            [
                {"bbox": [10, 10, 50, 50], "manipulation_probability": 0.9},
                {"bbox": [200, 10, 50, 50], "manipulation_probability": 0.1},
            ],
        ),
        (1.0, [{"bbox": [14, 12, 50, 50], "manipulation_probability": 0.8}]),
        (2.0, [{"bbox": [205, 12, 50, 50], "manipulation_probability": 0.2}]),
        (9.0, [{"bbox": [14, 12, 50, 50], "manipulation_probability": 0.3}]),  # after a gap
    ]
    tracks = face_tracks_link(samples)
    assert [(t.number, t.times) for t in tracks] == [(1, [0.0, 1.0]), (2, [0.0, 2.0]), (3, [9.0])]
    assert [face["track"] for _, faces in samples for face in faces] == [1, 2, 1, 2, 3]
    assert tracks[0].probability == pytest.approx(0.9)  # the upper half of (0.9, 0.8)


def _outcome(probability: float | None, faces=()) -> DetectionOutcome:
    if probability is None:
        return DetectionOutcome(
            applicable=False, reason="blank frame", detection={}, forensic_map=None
        )
    detection = {
        "manipulation_probability": probability,
        "detectors": [{"name": "multitask", "version": "v3", "score": probability}],
        "faces": list(faces),
    }
    return DetectionOutcome(
        applicable=True,
        reason=None,
        detection=detection,
        forensic_map=None,
        faces=list(faces),
        models={"multitask": "v3"},
        timings_ms={"network": 10.0},
    )


def test_a_manipulated_stretch_raises_the_video_probability_and_is_named(monkeypatch):
    scores = iter([0.05] * 8 + [0.9, 0.95] + [0.05] * 2)
    monkeypatch.setattr(
        video_detection.detection_selectors, "image_detection", lambda image: _outcome(next(scores))
    )
    frame = np.zeros((8, 8, 3), np.uint8)
    found = detect([(float(t), frame) for t in range(12)], interval=1.0)
    assert found.applicable
    top_quarter = (0.95 + 0.9 + 0.05) / 3
    assert found.detection["top_frames_probability"] == pytest.approx(top_quarter, abs=1e-4)
    calibrator = stored_calibration().calibrator  # the video-level calibration, if fitted
    features = aggregate_features([0.05] * 10 + [0.9, 0.95])
    expected = calibrator.probability(features) if calibrator else top_quarter
    assert found.probability == pytest.approx(expected)
    assert found.reasons == ["the detectors flag the frames at 0:08.0-0:09.0 (up to 95 %)"]
    assert [p["manipulation_probability"] for p in found.timeline][8:10] == [0.9, 0.95]
    assert found.detection["detectors"][0]["score"] == pytest.approx(top_quarter, abs=1e-4)
    assert found.timings_ms == {"network": 120.0}


def test_a_video_no_frame_of_which_can_be_judged_is_not_applicable(monkeypatch):
    monkeypatch.setattr(
        video_detection.detection_selectors, "image_detection", lambda image: _outcome(None)
    )
    found = detect([(0.0, np.zeros((8, 8, 3), np.uint8))], interval=1.0)
    assert not found.applicable and found.not_applicable_reason == "blank frame"


def test_faces_are_reported_as_tracks_with_their_times(monkeypatch):
    face = {"bbox": [10, 10, 40, 40], "manipulation_probability": 0.97}
    monkeypatch.setattr(
        video_detection.detection_selectors,
        "image_detection",
        lambda image: _outcome(0.2, [dict(face)]),
    )
    found = detect([(t, np.zeros((8, 8, 3), np.uint8)) for t in (0.0, 1.0, 2.0)], interval=1.0)
    assert found.detection["faces"] == [
        {
            "track": 1,
            "first_s": 0.0,
            "last_s": 2.0,
            "bbox": [10.0, 10.0, 40.0, 40.0],
            "peak_s": 0.0,
            "manipulation_probability": 0.97,
            "samples": 3,
        }
    ]
    assert found.reasons[0] == "face 1 (0:00.0-0:02.0) looks manipulated: 97 %"
    assert found.timeline[1]["faces"][0]["track"] == 1


def test_the_real_detectors_run_on_sampled_frames():
    rng = np.random.default_rng(0)
    frames = [(float(t), rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)) for t in range(2)]
    found = detect(frames, interval=1.0)
    assert found.applicable and 0.0 <= found.probability <= 1.0
    assert len(found.timeline) == 2 and found.models


def test_clock():
    assert [clock(0), clock(83.04), clock(3725.5)] == ["0:00.0", "1:23.0", "1:02:05.5"]


def test_shadow_scores_are_aggregated_apart_and_models_stamped(monkeypatch):
    stamp = {"name": "multitask", "version": "v3", "config_sha256": "ab" * 32}

    def judged(image):
        outcome = _outcome(0.1)
        outcome.detection["shadow"] = [{"name": "trial", "version": "1", "score": 1.0}]
        outcome.model_details = [stamp]
        return outcome

    monkeypatch.setattr(video_detection.detection_selectors, "image_detection", judged)
    frame = np.zeros((8, 8, 3), np.uint8)
    found = detect([(float(t), frame) for t in range(4)], interval=1.0)
    assert found.probability == pytest.approx(0.1)  # the shadow's 1.0 counts for nothing
    assert found.detection["shadow"] == [{"name": "trial", "version": "1", "score": 1.0}]
    assert found.model_details == [stamp] and "trial" not in found.models
