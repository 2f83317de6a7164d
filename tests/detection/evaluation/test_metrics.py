import numpy as np
import pytest

from detection.evaluation.metrics import (
    PixelCounts,
    accuracy,
    ece_sampling_floor,
    equal_error_rate,
    expected_calibration_error,
    roc_auc,
)


def test_auc_on_hand_computed_example() -> None:
    # Pairs (pos, neg): (0.8>0.3) (0.8>0.6) (0.4>0.3) (0.4<0.6) -> 3 of 4.
    assert roc_auc([0.8, 0.4, 0.3, 0.6], [1, 1, 0, 0]) == pytest.approx(0.75)
    assert roc_auc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)  # ties count one half
    assert roc_auc([0.9, 0.1], [1, 0]) == 1.0


def test_eer_on_hand_computed_example() -> None:
    # Threshold 0.5: one of four negatives accepted (FPR 0.25), one of four positives
    # rejected (FNR 0.25) -> EER 0.25.
    scores = [0.9, 0.8, 0.7, 0.2, 0.6, 0.4, 0.3, 0.1]
    labels = [1, 1, 1, 1, 0, 0, 0, 0]
    eer, threshold = equal_error_rate(scores, labels)
    assert eer == pytest.approx(0.25)
    assert 0.2 < threshold <= 0.7
    assert equal_error_rate([0.9, 0.1], [1, 0])[0] == 0.0


def test_accuracy_and_ece() -> None:
    assert accuracy([0.9, 0.4, 0.6], [1, 0, 0]) == pytest.approx(2 / 3)
    # All predictions 0.9, only half positive -> gap 0.4.
    assert expected_calibration_error([0.9] * 4, [1, 1, 0, 0]) == pytest.approx(0.4)
    assert expected_calibration_error([1.0, 0.0], [1, 0]) == pytest.approx(0.0)


def test_ece_sampling_floor_shrinks_with_the_set_and_vanishes_for_certain_scores() -> None:
    rng = np.random.default_rng(3)
    small, large = rng.random(100), rng.random(3000)
    floor_small, floor_large = ece_sampling_floor(small), ece_sampling_floor(large)
    assert 0.0 < floor_large < floor_small
    # Labels drawn from the scores: their ECE sits near the floor; a biased model's far above.
    labels = rng.random(3000) < large
    assert expected_calibration_error(large, labels) < 2 * floor_large
    assert expected_calibration_error(np.clip(large + 0.2, 0, 1), labels) > 5 * floor_large
    assert ece_sampling_floor([0.0, 1.0, 1.0, 0.0]) == 0.0


def test_pixel_metrics_on_hand_computed_masks() -> None:
    truth = np.array([[1, 1, 0, 0]], bool)
    predicted = np.array([[1, 0, 1, 0]], bool)
    counts = PixelCounts()
    counts.add(predicted, truth)  # tp=1 fp=1 fn=1 tn=1
    assert counts.iou() == pytest.approx(1 / 3)
    assert counts.f1() == pytest.approx(0.5)
    assert counts.pixel_accuracy() == pytest.approx(0.5)


def test_metrics_reject_single_class() -> None:
    with pytest.raises(ValueError):
        roc_auc([0.1, 0.2], [1, 1])
