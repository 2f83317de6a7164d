import numpy as np
import pytest

from detection.evaluation.evaluate import FUSION_FEATURES
from detection.evaluation.metrics import roc_auc
from detection.evaluation.selection import grouped_predictions


def _rows(seed: int, n: int = 120) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    rows = [{name: float(rng.normal()) for name in FUSION_FEATURES} for _ in labels]
    for row, label in zip(rows, labels, strict=True):
        row["multitask.max_logit"] += 2.0 * label  # one informative feature
    groups = np.repeat(np.arange(6), n // 6)
    return rows, labels, groups


@pytest.mark.parametrize("isotonic", [False, True])
def test_out_of_fold_predictions_are_probabilities_that_rank_well(isotonic: bool) -> None:
    rows, labels, groups = _rows(0)
    predicted = grouped_predictions(rows, labels, groups, regularisation=0.1, isotonic=isotonic)
    assert predicted.shape == labels.shape and ((predicted >= 0) & (predicted <= 1)).all()
    assert roc_auc(predicted, labels) > 0.8


def test_stronger_regularisation_gives_softer_probabilities() -> None:
    rows, labels, groups = _rows(1)
    loose = grouped_predictions(rows, labels, groups, regularisation=10.0)
    tight = grouped_predictions(rows, labels, groups, regularisation=0.001)
    assert np.abs(tight - 0.5).mean() < np.abs(loose - 0.5).mean()


def test_a_group_whose_removal_leaves_one_class_is_reported() -> None:
    rows, labels, groups = _rows(2, n=12)
    labels = np.array([1] * 6 + [0] * 6)
    groups = np.array([0] * 6 + [1] * 6)
    with pytest.raises(ValueError, match="only one class"):
        grouped_predictions(rows, labels, groups, regularisation=0.1)
