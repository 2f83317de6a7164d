import numpy as np
import pytest

from detection.core.calibration import FusionModel, IsotonicCalibrator, PlattCalibrator, sigmoid
from detection.evaluation.metrics import expected_calibration_error, roc_auc


def _overconfident(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(0, 1.5, n)
    labels = (rng.random(n) < sigmoid(true_logit)).astype(int)
    return sigmoid(3.0 * true_logit + 1.0), labels  # too sharp and biased


@pytest.mark.parametrize("calibrator", [PlattCalibrator, IsotonicCalibrator])
def test_calibration_reduces_ece_on_held_out_data(
    calibrator: type[PlattCalibrator] | type[IsotonicCalibrator],
) -> None:
    fit_scores, fit_labels = _overconfident(0)
    test_scores, test_labels = _overconfident(1)
    before = expected_calibration_error(test_scores, test_labels)
    fitted = calibrator.fit(fit_scores, fit_labels)
    after = expected_calibration_error(fitted(test_scores), test_labels)
    assert before > 0.1
    assert after < 0.04 and after < before / 3


def test_fusion_learns_informative_feature_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    rows = [{"good": float(y * 2 + rng.normal()), "noise": float(rng.normal())} for y in labels]
    fusion = FusionModel.fit(rows, labels, ["good", "noise"])
    probabilities = [fusion.predict(row) for row in rows]
    assert roc_auc(probabilities, labels) > 0.8
    assert abs(fusion.weights[0]) > 3 * abs(fusion.weights[1])
    restored = FusionModel.from_dict(fusion.to_dict())
    assert restored.predict(rows[0]) == pytest.approx(probabilities[0])
    # A missing feature contributes nothing instead of failing.
    assert 0.0 < restored.predict({"good": 1.0}) < 1.0
