import json

import numpy as np
import pytest

from detection.core.calibration import (
    FusionModel,
    IsotonicCalibrator,
    PlattCalibrator,
    SuiteCalibration,
    sigmoid,
)
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


def _calibration_document() -> dict:
    fusion = FusionModel(["a.score"], [1.0], 0.0, [0.0], [1.0])
    return SuiteCalibration(
        detectors={"a": "1"},
        fusion=fusion,
        fusion_calibration=IsotonicCalibrator([0.0, 1.0], [0.2, 0.8]),
        score_calibrations={"a": PlattCalibrator(0.5, 0.1)},
        thresholds={"likely_manipulated": 0.5, "map": 0.3},
    ).to_dict()


def test_suite_calibration_round_trips(tmp_path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(_calibration_document()))
    loaded = SuiteCalibration.from_json(path)
    assert loaded.source_path == str(path) and loaded.detectors == {"a": "1"}
    assert loaded.fusion_calibration is not None
    assert float(loaded.fusion_calibration(0.5)) == pytest.approx(0.5)
    assert loaded.score_calibrations["a"] == PlattCalibrator(0.5, 0.1)
    loaded.check_detectors({"a": "1"})
    with pytest.raises(ValueError, match="fitted for a 1, the active detectors are a 2"):
        loaded.check_detectors({"a": "2"})


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda d: d.update(schema="other"), "is not a detector-calibration/1 document"),
        (lambda d: d.pop("fusion"), "malformed calibration"),
        (lambda d: d["fusion_calibration"].update(method="magic"), "unknown method"),
        (lambda d: d["fusion_calibration"].update(knots_y=[0.9, 0.1]), "non-decreasing"),
        (lambda d: d["fusion_calibration"].update(knots_y=[0.1]), "one length"),
        (lambda d: d["fusion_calibration"].update(knots_y=[0.1, 7.0]), r"in \[0, 1\]"),
        (lambda d: d["detectors"][0]["score_calibration"].update(slope="nan"), "finite"),
        (lambda d: d.update(detectors="a"), "malformed calibration"),
    ],
)
def test_malformed_calibrations_are_refused(tmp_path, spoil, message) -> None:
    document = _calibration_document()
    spoil(document)
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=message):
        SuiteCalibration.from_json(path)


def test_unreadable_calibration_names_the_file(tmp_path) -> None:
    path = tmp_path / "calibration.json"
    path.write_bytes(b"\xff{not json")
    with pytest.raises(ValueError, match=r"cannot read calibration .*calibration\.json"):
        SuiteCalibration.from_json(path)
