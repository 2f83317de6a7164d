"""The video-level calibration: the sampled frames' probabilities aggregated, then mapped to one
calibrated probability for the whole video by a model fitted on labelled videos (issue 17).

The model is data: a JSON next to the detector config (`<config stem>.video-calibration.json`),
written by `manage.py calibrate_video_detection` (moderation.video_calibration_fit) and stamped
with the detector config it was fitted for. The frames' probabilities come from that config's
detectors, so a calibration fitted for another config (a retrained network, a refitted fusion)
must not apply: it is then ignored and the report's `detection.aggregation` says why. A file
that exists but cannot be read is an operator's problem, raised as DetectionUnavailable naming
the file, as a broken detector config is.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detection.core.calibration import FusionModel, PlattCalibrator, logit
from detection.selectors import DetectionUnavailable, configured_network_config

VIDEO_CALIBRATION_SCHEMA = "video-calibration/1"
CALIBRATION_SUFFIX = ".video-calibration.json"
# The share of sampled frames, highest first, whose mean is the video's aggregate: a manipulated
# stretch raises it even when most of the video is untouched, and a single odd frame does not.
TOP_FRACTION = 0.25
# A sampled frame at or above this probability counts as flagged (reasons, `flagged_share`).
FLAGGED_PROBABILITY = 0.5
# Keys of a detector config that record measurements and change no probability
# (evaluate_detector --write rewrites them): left out of the stamp.
UNSTAMPED_CONFIG_KEYS = ("metrics",)
# The aggregate features a fitted model may use (see aggregate_features).
FEATURES = ("top_mean_logit", "max_logit", "flagged_share")


def top_mean(values: Sequence[float]) -> float:
    top = sorted(values, reverse=True)[: max(1, math.ceil(len(values) * TOP_FRACTION))]
    return float(np.mean(top))


def aggregate_features(probabilities: Sequence[float]) -> dict[str, float]:
    """The video's aggregate features from its sampled frames' calibrated probabilities."""
    values = np.asarray(probabilities, dtype=np.float64)
    return {
        "top_mean": top_mean(values.tolist()),
        "top_mean_logit": float(logit(top_mean(values.tolist()))),
        "max_logit": float(logit(values.max())),
        "flagged_share": float((values >= FLAGGED_PROBABILITY).mean()),
    }


def uncalibrated_aggregation() -> str:
    return f"mean of the top {round(TOP_FRACTION * 100)} % of sampled frames"


def calibration_path(detector_config: Path) -> Path:
    """Where the video calibration of a detector config lives (next to it)."""
    return detector_config.with_name(detector_config.stem + CALIBRATION_SUFFIX)


def detector_stamp(detector_config: Path) -> dict[str, str]:
    """What a video calibration is stamped with: the config's file name, detector name and
    version, and a fingerprint of its content (measurement records left out)."""
    try:
        data = json.loads(detector_config.read_text())
    except (OSError, json.JSONDecodeError) as error:
        message = f"cannot read detector config {detector_config}: {error}"
        raise DetectionUnavailable(message) from error
    if not isinstance(data, dict):
        raise DetectionUnavailable(f"detector config {detector_config} is not a JSON object")
    kept = {key: value for key, value in data.items() if key not in UNSTAMPED_CONFIG_KEYS}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()
    return {
        "file": detector_config.name,
        "name": str(data.get("name", "")),
        "version": str(data.get("version", "")),
        "fingerprint": "sha256:" + hashlib.sha256(canonical).hexdigest(),
    }


@dataclass(frozen=True)
class VideoCalibrator:
    """A fitted map from aggregate features to the video's probability: Platt scaling of the
    top-quarter mean, or a logistic model over several aggregate features."""

    method: str  # "platt" or "logistic_regression"
    platt: PlattCalibrator | None = None
    model: FusionModel | None = None

    def probability(self, features: dict[str, float]) -> float:
        if self.platt is not None:
            return float(self.platt(features["top_mean"]))
        assert self.model is not None
        return self.model.predict(features)

    def to_dict(self) -> dict[str, Any]:
        if self.platt is not None:
            return {**self.platt.to_dict(), "feature": "top_mean"}
        assert self.model is not None
        return self.model.to_dict()

    @classmethod
    def from_dict(cls, data: Any) -> VideoCalibrator:
        """Raises ValueError (or KeyError/TypeError) for a model that is not one of ours."""
        if not isinstance(data, dict):
            raise ValueError("the model is not a JSON object")
        if data.get("method") == "platt":
            platt = PlattCalibrator(float(data["slope"]), float(data["intercept"]))
            if not (math.isfinite(platt.slope) and math.isfinite(platt.intercept)):
                raise ValueError("the Platt parameters are not finite")
            return cls("platt", platt=platt)
        if data.get("method") == "logistic_regression":
            model = FusionModel.from_dict(data)
            unknown = set(model.features) - set(FEATURES)
            if unknown:
                raise ValueError(f"unknown features {sorted(unknown)}")
            lengths = {len(model.weights), len(model.means), len(model.scales)}
            if lengths != {len(model.features)}:
                raise ValueError("features, weights, means and scales differ in length")
            numbers = [model.bias, *model.weights, *model.means, *model.scales]
            if not all(math.isfinite(v) for v in numbers) or min(model.scales) <= 0:
                raise ValueError("the model's numbers are not finite (or a scale is not > 0)")
            return cls("logistic_regression", model=model)
        raise ValueError(f"unknown method {data.get('method')!r}")

    def monotone(self) -> bool:
        """Whether the video's probability rises with its frames' probabilities (every
        aggregate feature rises with them): a fit that ranks videos against their frames is
        not a calibration of the detectors."""
        if self.platt is not None:
            return self.platt.slope > 0
        assert self.model is not None
        return min(self.model.weights) >= 0 and max(self.model.weights) > 0

    def describe(self) -> str:
        if self.platt is not None:
            return f"Platt scaling of the {uncalibrated_aggregation()}"
        assert self.model is not None
        return "a logistic model over " + ", ".join(self.model.features)


@dataclass(frozen=True)
class StoredCalibration:
    """The calibration that applies to the configured detectors (None) and the words for the
    report's `detection.aggregation`."""

    calibrator: VideoCalibrator | None
    aggregation: str


def calibration_document(
    *, calibrator: VideoCalibrator, stamp: dict[str, str], fitted: dict[str, Any]
) -> dict[str, Any]:
    """The stored JSON of a fitted calibration."""
    return {
        "schema": VIDEO_CALIBRATION_SCHEMA,
        "detector_config": stamp,
        "model": calibrator.to_dict(),
        **fitted,
    }


def _read(path: Path) -> tuple[VideoCalibrator, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("schema") != VIDEO_CALIBRATION_SCHEMA:
            raise ValueError(f"not a {VIDEO_CALIBRATION_SCHEMA} document")
        stamp = data.get("detector_config")
        if not isinstance(stamp, dict) or not isinstance(stamp.get("fingerprint"), str):
            raise ValueError("no detector_config stamp")
        return VideoCalibrator.from_dict(data.get("model")), stamp
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DetectionUnavailable(f"cannot load the video calibration {path}: {error}") from error


def stored_calibration(detector_config: Path | None = None) -> StoredCalibration:
    """The video calibration stored next to the (configured) detector config, if it was fitted
    for that config. Raises DetectionUnavailable naming the file when it exists but is corrupt."""
    config = detector_config or configured_network_config()
    path = calibration_path(config)
    plain = uncalibrated_aggregation()
    if not path.is_file():
        return StoredCalibration(
            None,
            f"{plain}, not re-calibrated: no video calibration for {config.name} "
            "(manage.py calibrate_video_detection fits one)",
        )
    calibrator, stamp = _read(path)
    current = detector_stamp(config)
    if stamp.get("fingerprint") != current["fingerprint"]:
        fitted_for = f"{stamp.get('name', '?')} {stamp.get('version', '?')}"
        return StoredCalibration(
            None,
            f"{plain}, not re-calibrated: {path.name} was fitted for another detector config "
            f"({fitted_for}, {str(stamp.get('fingerprint'))[:19]}; now {current['name']} "
            f"{current['version']}, {current['fingerprint'][:19]}); refit it with "
            "manage.py calibrate_video_detection",
        )
    return StoredCalibration(
        calibrator,
        f"calibrated: {calibrator.describe()} (fitted on labelled videos for "
        f"{current['name']} {current['version']}, {path.name})",
    )
