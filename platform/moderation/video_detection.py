"""Detection over time: the image detectors on sampled frames, faces tracked across them, and one
calibrated probability for the whole video (issue 17).

The detectors are the image ones (`detection.selectors.image_detection`), run on frames sampled
every `detection_interval` seconds. What this module adds:
- **face tracks**: a face found at one sampled time continues the track whose last box overlaps
  it most (IoU >= FACE_TRACK_IOU, no longer ago than FACE_TRACK_GAP_S); a track's probability is
  the mean of the upper half of its samples' probabilities, so one badly lit frame neither makes
  nor breaks a face;
- **the video's probability**: the sampled frames' (calibrated) probabilities aggregated - the
  mean of the top quarter, the highest, the share flagged (`video_calibration.aggregate_features`)
  - and mapped to one probability by the video-level calibration fitted on generated labelled
  videos (`video_calibration.stored_calibration`, `manage.py calibrate_video_detection`). A
  manipulated stretch raises the aggregate even when most of the video is untouched, and a single
  odd frame does not. Without a calibration fitted for the configured detectors, the top-quarter
  mean is reported as is; `detection.aggregation` says which;
- **reasons that name times and faces**, most telling first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detection import selectors as detection_selectors
from detection.core.faces import box_iou, scaled_face_dict
from moderation.clock import clock
from moderation.video_calibration import (
    FLAGGED_PROBABILITY,
    aggregate_features,
    stored_calibration,
    top_mean,
)

# Detectors run on one frame per second of video (fewer, evenly spread, for long videos:
# factcheck.video_store.sample_interval).
DETECTION_SAMPLE_S = 1.0
FACE_TRACK_IOU = 0.3
FACE_TRACK_GAP_S = 2.5


@dataclass
class FaceTrack:
    number: int
    times: list[float] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)

    @property
    def probability(self) -> float | None:
        if not self.probabilities:
            return None
        upper = sorted(self.probabilities, reverse=True)[
            : max(1, math.ceil(len(self.probabilities) / 2))
        ]
        return float(np.mean(upper))

    def to_dict(self) -> dict[str, Any]:
        peak = int(np.argmax(self.probabilities)) if self.probabilities else 0
        return {
            "track": self.number,
            "first_s": round(self.times[0], 3),
            "last_s": round(self.times[-1], 3),
            "bbox": list(self.boxes[peak]),
            "peak_s": round(self.times[peak], 3),
            "manipulation_probability": _rounded(self.probability),
            "samples": len(self.times),
        }


@dataclass
class VideoDetection:
    applicable: bool
    probability: float | None
    detection: dict[str, Any]  # the report's `detection` section
    timeline: list[dict[str, Any]]  # the report's `timeline`
    reasons: list[str]
    not_applicable_reason: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    model_details: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    tracks: list[FaceTrack] = field(default_factory=list)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def face_tracks_link(samples: Sequence[tuple[float, list[dict[str, Any]]]]) -> list[FaceTrack]:
    """Faces of the sampled times (in time order) linked into tracks; each face dict gets its
    track number as `track`."""
    tracks: list[FaceTrack] = []
    for time_s, faces in samples:
        taken: set[int] = set()
        for face in faces:
            box = tuple(float(v) for v in face["bbox"])
            best, best_iou = None, FACE_TRACK_IOU
            for i, track in enumerate(tracks):
                if i in taken or time_s - track.times[-1] > FACE_TRACK_GAP_S:
                    continue
                overlap = box_iou(track.boxes[-1], box)
                if overlap >= best_iou:
                    best, best_iou = i, overlap
            if best is None:
                tracks.append(FaceTrack(number=len(tracks) + 1))
                best = len(tracks) - 1
            taken.add(best)
            track = tracks[best]
            track.times.append(time_s)
            track.boxes.append((box[0], box[1], box[2], box[3]))
            probability = face.get("manipulation_probability")
            if probability is not None:
                track.probabilities.append(float(probability))
            face["track"] = track.number
    return tracks


def _flagged_stretches(points: Sequence[tuple[float, float]], interval: float) -> list[tuple]:
    """(start, end, peak) of runs of consecutive samples at or above FLAGGED_PROBABILITY."""
    stretches: list[tuple[float, float, float]] = []
    for time_s, probability in points:
        if probability < FLAGGED_PROBABILITY:
            continue
        if stretches and time_s - stretches[-1][1] <= interval * 1.5:
            start, _, peak = stretches[-1]
            stretches[-1] = (start, time_s, max(peak, probability))
        else:
            stretches.append((time_s, time_s, probability))
    return sorted(stretches, key=lambda s: -s[2])


def _scaled_faces(faces: list[dict[str, Any]], scale: float) -> list[dict[str, Any]]:
    return [scaled_face_dict(face, scale, box_digits=1) for face in faces]


@dataclass
class FramesJudged:
    """The detectors' findings on each sampled frame, before aggregation over the video."""

    timeline: list[dict[str, Any]]  # the report's `timeline`
    judged: list[tuple[float, float]]  # (time, probability) of the frames that could be judged
    per_detector: dict[str, list[float]]
    versions: dict[str, str]
    tracks: list[FaceTrack]
    models: dict[str, str]
    timings_ms: dict[str, float]
    last_reason: str | None  # why the last frame that could not be judged could not
    model_details: list[dict[str, Any]] = field(default_factory=list)
    shadow: dict[str, list[float]] = field(default_factory=dict)  # its scores on judged frames
    shadow_versions: dict[str, str] = field(default_factory=dict)


def frames_judge(
    samples: Sequence[tuple[float, np.ndarray]], *, scale: float = 1.0
) -> FramesJudged:
    """Run the detectors on each sampled frame (time in seconds, RGB) and link faces into
    tracks; `scale` maps the samples' pixels to the video's (face boxes are in the video's)."""
    found = FramesJudged([], [], {}, {}, [], {}, {}, None)
    face_samples: list[tuple[float, list[dict[str, Any]]]] = []
    for time_s, rgb in samples:
        outcome = detection_selectors.image_detection(image=rgb)
        for step, ms in outcome.timings_ms.items():
            found.timings_ms[step] = round(found.timings_ms.get(step, 0.0) + ms, 1)
        point: dict[str, Any] = {"time_s": round(time_s, 3), "manipulation_probability": None}
        if outcome.applicable:
            probability = outcome.detection.get("manipulation_probability")
            if probability is not None:
                point["manipulation_probability"] = _rounded(probability)
                found.judged.append((time_s, float(probability)))
            faces = _scaled_faces(outcome.faces, scale)
            face_samples.append((time_s, faces))
            point["faces"] = faces
            for detector in outcome.detection.get("detectors", []):
                if detector.get("score") is not None:
                    name = detector["name"]
                    found.per_detector.setdefault(name, []).append(float(detector["score"]))
                    found.versions[name] = str(detector.get("version", ""))
            found.models.update(outcome.models)
            found.model_details = outcome.model_details or found.model_details
            for entry in outcome.detection.get("shadow", []):
                scores = found.shadow.setdefault(entry["name"], [])
                found.shadow_versions[entry["name"]] = str(entry.get("version", ""))
                if entry.get("score") is not None:
                    scores.append(float(entry["score"]))
        else:
            found.last_reason = outcome.reason
        found.timeline.append(point)
    found.tracks = face_tracks_link(face_samples)
    return found


def video_detection(
    samples: Sequence[tuple[float, np.ndarray]], *, interval: float, scale: float = 1.0
) -> VideoDetection:
    """Run the detectors on each sampled frame (time in seconds, RGB) and aggregate into the
    video's calibrated probability; `scale` maps the samples' pixels to the video's (face
    boxes are reported in the video's). Raises DetectionUnavailable when the detector files or
    the stored video calibration are broken."""
    found = frames_judge(samples, scale=scale)
    if not found.judged:
        reason = found.last_reason or "no frame of the video could be judged by the detectors"
        return VideoDetection(
            applicable=False,
            probability=None,
            detection={},
            timeline=found.timeline,
            reasons=[],
            not_applicable_reason=reason,
            models=found.models,
            model_details=found.model_details,
            timings_ms=found.timings_ms,
        )
    calibration = stored_calibration()
    features = aggregate_features([p for _, p in found.judged])
    probability = (
        calibration.calibrator.probability(features)
        if calibration.calibrator is not None
        else features["top_mean"]
    )
    detection = {
        "manipulation_probability": _rounded(probability),
        "detectors": [
            {"name": name, "version": found.versions[name], "score": _rounded(top_mean(scores))}
            for name, scores in found.per_detector.items()
        ],
        "faces": [track.to_dict() for track in found.tracks],
        # Aggregated like the detectors (never part of the probability); None: it failed on
        # every judged frame.
        "shadow": [
            {
                "name": name,
                "version": found.shadow_versions[name],
                "score": _rounded(top_mean(scores)) if scores else None,
            }
            for name, scores in found.shadow.items()
        ],
        "frames_sampled": len(samples),
        "sample_interval_s": round(interval, 3),
        "aggregation": calibration.aggregation,
        "calibrated": calibration.calibrator is not None,
        "top_frames_probability": _rounded(features["top_mean"]),
    }
    return VideoDetection(
        applicable=True,
        probability=probability,
        detection=detection,
        timeline=found.timeline,
        reasons=_reasons(found.judged, found.tracks, interval),
        models=found.models,
        model_details=found.model_details,
        timings_ms=found.timings_ms,
        tracks=found.tracks,
    )


def _reasons(
    judged: list[tuple[float, float]], tracks: list[FaceTrack], interval: float
) -> list[str]:
    reasons = []
    for track in sorted(tracks, key=lambda t: -(t.probability or 0)):
        if (track.probability or 0) >= FLAGGED_PROBABILITY:
            reasons.append(
                f"face {track.number} ({clock(track.times[0])}-{clock(track.times[-1])}) looks "
                f"manipulated: {round(100 * (track.probability or 0))} %"
            )
    for start, end, peak in _flagged_stretches(judged, interval)[:3]:
        span = clock(start) if start == end else f"{clock(start)}-{clock(end)}"
        reasons.append(f"the detectors flag the frames at {span} (up to {round(100 * peak)} %)")
    if not reasons:
        peak_time, peak = max(judged, key=lambda point: point[1])
        highest = f"highest {round(100 * peak)} % at {clock(peak_time)}"
        reasons.append(f"no sampled frame looks manipulated ({highest})")
    return reasons
