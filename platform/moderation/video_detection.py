"""Detection over time: the image detectors on sampled frames, faces tracked across them, and one
probability for the whole video (issue 17).

The detectors are the image ones (`detection.selectors.image_detection`), run on frames sampled
every `detection_interval` seconds. What this module adds:
- **face tracks**: a face found at one sampled time continues the track whose last box overlaps
  it most (IoU >= FACE_TRACK_IOU, no longer ago than FACE_TRACK_GAP_S); a track's probability is
  the mean of the upper half of its samples' probabilities, so one badly lit frame neither makes
  nor breaks a face;
- **the video's probability**: the mean of the top TOP_FRACTION of the sampled frames'
  probabilities. A manipulated stretch raises it even when most of the video is untouched, and a
  single odd frame does not. The per-frame probabilities are the detectors' calibrated ones; the
  aggregate itself is not re-calibrated (no labelled videos exist here to fit it on);
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

# Detectors run on one frame per second of video (fewer, evenly spread, for long videos:
# factcheck.video_store.sample_interval).
DETECTION_SAMPLE_S = 1.0
FACE_TRACK_IOU = 0.3
FACE_TRACK_GAP_S = 2.5
TOP_FRACTION = 0.25
# A stretch of sampled frames at or above this probability is named in the reasons.
FLAGGED_PROBABILITY = 0.5


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


def _top_mean(values: Sequence[float]) -> float:
    top = sorted(values, reverse=True)[: max(1, math.ceil(len(values) * TOP_FRACTION))]
    return float(np.mean(top))


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


def video_detection(
    samples: Sequence[tuple[float, np.ndarray]], *, interval: float, scale: float = 1.0
) -> VideoDetection:
    """Run the detectors on each sampled frame (time in seconds, RGB) and aggregate; `scale`
    maps the samples' pixels to the video's (face boxes are reported in the video's)."""
    timeline: list[dict[str, Any]] = []
    judged: list[tuple[float, float]] = []
    per_detector: dict[str, list[float]] = {}
    versions: dict[str, str] = {}
    face_samples: list[tuple[float, list[dict[str, Any]]]] = []
    models: dict[str, str] = {}
    model_details: list[dict[str, Any]] = []
    shadow: dict[str, list[float]] = {}  # shadow detector -> its scores on the judged frames
    shadow_versions: dict[str, str] = {}
    timings: dict[str, float] = {}
    last_reason: str | None = None
    for time_s, rgb in samples:
        outcome = detection_selectors.image_detection(image=rgb)
        for step, ms in outcome.timings_ms.items():
            timings[step] = round(timings.get(step, 0.0) + ms, 1)
        point: dict[str, Any] = {"time_s": round(time_s, 3), "manipulation_probability": None}
        if outcome.applicable:
            probability = outcome.detection.get("manipulation_probability")
            if probability is not None:
                point["manipulation_probability"] = _rounded(probability)
                judged.append((time_s, float(probability)))
            faces = _scaled_faces(outcome.faces, scale)
            face_samples.append((time_s, faces))
            point["faces"] = faces
            for detector in outcome.detection.get("detectors", []):
                if detector.get("score") is not None:
                    per_detector.setdefault(detector["name"], []).append(float(detector["score"]))
                    versions[detector["name"]] = str(detector.get("version", ""))
            models.update(outcome.models)
            model_details = outcome.model_details or model_details
            for entry in outcome.detection.get("shadow", []):
                scores = shadow.setdefault(entry["name"], [])
                shadow_versions[entry["name"]] = str(entry.get("version", ""))
                if entry.get("score") is not None:
                    scores.append(float(entry["score"]))
        else:
            last_reason = outcome.reason
        timeline.append(point)
    tracks = face_tracks_link(face_samples)
    if not judged:
        reason = last_reason or "no frame of the video could be judged by the detectors"
        return VideoDetection(
            applicable=False,
            probability=None,
            detection={},
            timeline=timeline,
            reasons=[],
            not_applicable_reason=reason,
            models=models,
            model_details=model_details,
            timings_ms=timings,
        )
    probability = _top_mean([p for _, p in judged])
    detection = {
        "manipulation_probability": _rounded(probability),
        "detectors": [
            {"name": name, "version": versions[name], "score": _rounded(_top_mean(scores))}
            for name, scores in per_detector.items()
        ],
        "faces": [track.to_dict() for track in tracks],
        # Aggregated like the detectors (never part of the probability); None: it failed on
        # every judged frame.
        "shadow": [
            {
                "name": name,
                "version": shadow_versions[name],
                "score": _rounded(_top_mean(scores)) if scores else None,
            }
            for name, scores in shadow.items()
        ],
        "frames_sampled": len(samples),
        "sample_interval_s": round(interval, 3),
        "aggregation": f"mean of the top {round(TOP_FRACTION * 100)} % of sampled frames",
    }
    return VideoDetection(
        applicable=True,
        probability=probability,
        detection=detection,
        timeline=timeline,
        reasons=_reasons(judged, tracks, interval),
        models=models,
        model_details=model_details,
        timings_ms=timings,
        tracks=tracks,
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
