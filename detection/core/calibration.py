"""Probability calibration and detector fusion, fitted on the calibration split only and stored
as plain JSON data next to the checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
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
