"""Probability calibration and detector fusion, fitted on the calibration split only and stored
as plain JSON data next to the checkpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Scores are clipped away from 0 and 1 before taking logits so one saturated detector cannot
# produce an infinite feature.
LOGIT_CLIP = 1e-4
# Strength of the L2 penalty (sklearn's C): small calibration sets must not be over-fitted.
# Chosen by leave-one-source-group-out cross-validation on the calibration split
# (python -m detection.evaluation.selection; figures in docs/benchmarks.md).
FUSION_REGULARISATION_C = 0.1


def logit(p: np.ndarray | float) -> np.ndarray:
    clipped = np.clip(np.asarray(p, dtype=np.float64), LOGIT_CLIP, 1.0 - LOGIT_CLIP)
    return np.log(clipped / (1.0 - clipped))


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclass
class PlattCalibrator:
    """p = sigmoid(slope * logit(score) + intercept); slope < 1 softens over-confidence."""

    slope: float = 1.0
    intercept: float = 0.0

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> PlattCalibrator:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1e4)  # near-unpenalised: two parameters only
        model.fit(logit(scores).reshape(-1, 1), np.asarray(labels).astype(int))
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]))

    def __call__(self, scores: np.ndarray | float) -> np.ndarray:
        return sigmoid(self.slope * logit(scores) + self.intercept)

    def to_dict(self) -> dict[str, object]:
        return {"method": "platt", "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlattCalibrator:
        slope, intercept = float(data["slope"]), float(data["intercept"])
        if not (np.isfinite(slope) and np.isfinite(intercept)):
            raise ValueError("Platt slope and intercept must be finite")
        return cls(slope, intercept)


@dataclass
class IsotonicCalibrator:
    """Monotone step function through (score, probability) knots, linear in between."""

    knots_x: list[float]
    knots_y: list[float]

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> IsotonicCalibrator:
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        model.fit(np.asarray(scores, float), np.asarray(labels, float))
        return cls([float(x) for x in model.X_thresholds_], [float(y) for y in model.y_thresholds_])

    def __call__(self, scores: np.ndarray | float) -> np.ndarray:
        calibrated: np.ndarray = np.interp(np.asarray(scores, float), self.knots_x, self.knots_y)
        return calibrated

    def to_dict(self) -> dict[str, object]:
        return {"method": "isotonic", "knots_x": self.knots_x, "knots_y": self.knots_y}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IsotonicCalibrator:
        knots_x = np.asarray(data["knots_x"], dtype=np.float64)
        knots_y = np.asarray(data["knots_y"], dtype=np.float64)
        if knots_x.ndim != 1 or knots_x.shape != knots_y.shape or knots_x.size == 0:
            raise ValueError("isotonic knots_x and knots_y must be non-empty lists of one length")
        finite = np.isfinite(knots_x).all() and np.isfinite(knots_y).all()
        if not finite or (np.diff(knots_x) < 0).any() or (np.diff(knots_y) < 0).any():
            raise ValueError("isotonic knots must be finite and non-decreasing")
        if knots_y.min() < 0.0 or knots_y.max() > 1.0:
            raise ValueError("isotonic knots_y must be probabilities in [0, 1]")
        return cls(knots_x.tolist(), knots_y.tolist())


Calibrator = PlattCalibrator | IsotonicCalibrator
CALIBRATORS: dict[str, type[PlattCalibrator] | type[IsotonicCalibrator]] = {
    "platt": PlattCalibrator,
    "isotonic": IsotonicCalibrator,
}


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    """A stored calibrator ({"method": "platt" | "isotonic", ...}); ValueError when malformed."""
    try:
        return CALIBRATORS[str(data["method"])].from_dict(data)
    except KeyError as error:
        raise ValueError(f"calibrator lacks {error} or names an unknown method") from None
    except TypeError as error:
        raise ValueError(f"malformed calibrator: {error}") from None


@dataclass
class FusionModel:
    """Logistic regression over named features (standardised), giving one calibrated
    manipulation probability. Missing features (a detector switched off) count as their mean,
    i.e. contribute nothing."""

    features: list[str]
    weights: list[float]
    bias: float
    means: list[float]
    scales: list[float]

    @classmethod
    def fit(
        cls,
        rows: list[dict[str, float]],
        labels: np.ndarray,
        features: list[str],
        regularisation: float = FUSION_REGULARISATION_C,
    ) -> FusionModel:
        from sklearn.linear_model import LogisticRegression

        matrix = np.array([[row[name] for name in features] for row in rows], dtype=np.float64)
        means, scales = matrix.mean(axis=0), matrix.std(axis=0) + 1e-6
        model = LogisticRegression(C=regularisation, max_iter=1000)
        model.fit((matrix - means) / scales, np.asarray(labels).astype(int))
        return cls(
            list(features),
            [float(w) for w in model.coef_[0]],
            float(model.intercept_[0]),
            means.tolist(),
            scales.tolist(),
        )

    def predict(self, row: dict[str, float]) -> float:
        total = self.bias
        for name, weight, mean, scale in zip(
            self.features, self.weights, self.means, self.scales, strict=True
        ):
            value = row.get(name, mean)
            total += weight * (float(value) - mean) / scale
        return float(sigmoid(total))

    def to_dict(self) -> dict[str, object]:
        return {
            "method": "logistic_regression",
            "features": self.features,
            "weights": self.weights,
            "bias": self.bias,
            "means": self.means,
            "scales": self.scales,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FusionModel:
        return cls(
            list(data["features"]),
            [float(w) for w in data["weights"]],
            float(data["bias"]),
            [float(m) for m in data["means"]],
            [float(s) for s in data["scales"]],
        )


CALIBRATION_SCHEMA = "detector-calibration/1"


@dataclass
class SuiteCalibration:
    """What `manage.py calibrate_detectors` fits on a labelled folder and the suite applies at
    inference (DETECTION_CALIBRATION): the fusion, a calibrator on top of the fused probability,
    one calibrator per detector score, thresholds, and the detectors (name -> version) it was
    fitted for, so it is never applied to other models."""

    detectors: dict[str, str]
    fusion: FusionModel
    fusion_calibration: Calibrator | None = None
    score_calibrations: dict[str, Calibrator] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    # Provenance and held-out figures: stored with the fit, never read at inference.
    report: dict[str, Any] = field(default_factory=dict)
    source_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CALIBRATION_SCHEMA,
            "detectors": [
                {
                    "name": name,
                    "version": version,
                    "score_calibration": (
                        self.score_calibrations[name].to_dict()
                        if name in self.score_calibrations
                        else None
                    ),
                }
                for name, version in self.detectors.items()
            ],
            "fusion": self.fusion.to_dict(),
            "fusion_calibration": (
                self.fusion_calibration.to_dict() if self.fusion_calibration else None
            ),
            "thresholds": self.thresholds,
            **self.report,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source_path: str | None = None) -> SuiteCalibration:
        where = source_path or "calibration"
        if not isinstance(data, dict) or data.get("schema") != CALIBRATION_SCHEMA:
            raise ValueError(f"{where} is not a {CALIBRATION_SCHEMA} document")
        try:
            entries = list(data["detectors"])
            detectors = {str(e["name"]): str(e["version"]) for e in entries}
            scores = {
                str(e["name"]): calibrator_from_dict(e["score_calibration"])
                for e in entries
                if e.get("score_calibration")
            }
            fused = data.get("fusion_calibration")
            return cls(
                detectors=detectors,
                fusion=FusionModel.from_dict(data["fusion"]),
                fusion_calibration=calibrator_from_dict(fused) if fused else None,
                score_calibrations=scores,
                thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()},
                source_path=source_path,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"malformed calibration {where}: {error}") from None

    @classmethod
    def from_json(cls, path: Path | str) -> SuiteCalibration:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read calibration {path}: {error}") from None
        return cls.from_dict(data, source_path=str(path))

    def check_detectors(self, active: dict[str, str]) -> None:
        """ValueError unless the active detectors (name -> version) are the ones it was fitted
        for: a fusion fitted on other models' scores would give a wrong probability."""
        if active != self.detectors:
            raise ValueError(
                f"calibration {self.source_path or ''} was fitted for "
                f"{_named(self.detectors)}, the active detectors are {_named(active)}"
            )


def _named(detectors: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in sorted(detectors.items()))
