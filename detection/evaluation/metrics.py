"""Evaluation metrics used by Nguyen et al.: classification accuracy, EER, AUC; segmentation
pixel accuracy, IoU and F1. Pure numpy so results do not depend on library versions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _as_arrays(
    scores: np.ndarray | list[float], labels: np.ndarray | list[int]
) -> tuple[np.ndarray, np.ndarray]:
    scores_array = np.asarray(scores, dtype=np.float64).ravel()
    labels_array = np.asarray(labels).astype(bool).ravel()
    if scores_array.shape != labels_array.shape:
        raise ValueError("scores and labels differ in length")
    return scores_array, labels_array


def roc_auc(scores: np.ndarray | list[float], labels: np.ndarray | list[int]) -> float:
    """Area under the ROC curve = P(score of a random positive > random negative), ties 1/2."""
    scores_array, labels_array = _as_arrays(scores, labels)
    positives, negatives = scores_array[labels_array], scores_array[~labels_array]
    if positives.size == 0 or negatives.size == 0:
        raise ValueError("AUC needs both positive and negative examples")
    order = np.argsort(scores_array, kind="mergesort")
    ranks = np.empty_like(scores_array)
    sorted_scores = scores_array[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(average, counts)
    rank_sum = ranks[labels_array].sum()
    return float(
        (rank_sum - positives.size * (positives.size + 1) / 2) / (positives.size * negatives.size)
    )


def equal_error_rate(
    scores: np.ndarray | list[float], labels: np.ndarray | list[int]
) -> tuple[float, float]:
    """(EER, threshold): the operating point where false-accept and false-reject rates meet.

    A sample is called positive when score >= threshold. Between candidate thresholds the EER
    is the mean of FPR and FNR at the threshold where their difference is smallest.
    """
    scores_array, labels_array = _as_arrays(scores, labels)
    positives, negatives = labels_array.sum(), (~labels_array).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("EER needs both positive and negative examples")
    thresholds = np.unique(np.concatenate([scores_array, [np.inf]]))
    best = (np.inf, 0.0, 0.0)
    for threshold in thresholds:
        predicted = scores_array >= threshold
        fpr = (predicted & ~labels_array).sum() / negatives
        fnr = (~predicted & labels_array).sum() / positives
        if abs(fpr - fnr) < best[0]:
            best = (abs(fpr - fnr), (fpr + fnr) / 2, float(threshold))
    return float(best[1]), best[2]


def accuracy(
    scores: np.ndarray | list[float], labels: np.ndarray | list[int], threshold: float = 0.5
) -> float:
    scores_array, labels_array = _as_arrays(scores, labels)
    return float(((scores_array >= threshold) == labels_array).mean())


def expected_calibration_error(
    probabilities: np.ndarray | list[float], labels: np.ndarray | list[int], bins: int = 10
) -> float:
    """ECE with equal-width bins: sum over bins of |accuracy - confidence| weighted by count."""
    total = len(np.asarray(probabilities).ravel())
    return float(
        sum(
            b.count / total * abs(b.fraction_positive - b.mean_probability)
            for b in reliability_bins(probabilities, labels, bins)
        )
    )


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width probability bin of a reliability diagram (non-empty bins only)."""

    lower: float
    upper: float
    count: int
    mean_probability: float
    fraction_positive: float


def reliability_bins(
    probabilities: np.ndarray | list[float], labels: np.ndarray | list[int], bins: int = 10
) -> list[ReliabilityBin]:
    """The bins ECE sums over: each bin's mean probability against its positive fraction."""
    probability_array, labels_array = _as_arrays(probabilities, labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probability_array, edges[1:-1]), 0, bins - 1)
    found = []
    for b in range(bins):
        selected = index == b
        if selected.any():
            found.append(
                ReliabilityBin(
                    float(edges[b]),
                    float(edges[b + 1]),
                    int(selected.sum()),
                    float(probability_array[selected].mean()),
                    float(labels_array[selected].mean()),
                )
            )
    return found


def ece_sampling_floor(
    probabilities: np.ndarray | list[float], bins: int = 10, draws: int = 500, seed: int = 0
) -> float:
    """The ECE a perfectly calibrated model would still show on a set of this size: the mean
    ECE over `draws` label sets drawn from the probabilities themselves. An ECE near this floor
    cannot be told apart from perfect calibration on this many images."""
    probability_array = np.asarray(probabilities, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return float(
        np.mean(
            [
                expected_calibration_error(
                    probability_array, rng.random(probability_array.shape) < probability_array, bins
                )
                for _ in range(draws)
            ]
        )
    )


@dataclass
class PixelCounts:
    """Confusion counts accumulated over many images (metrics are computed on the totals)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        predicted, truth = predicted.astype(bool), truth.astype(bool)
        self.tp += int((predicted & truth).sum())
        self.fp += int((predicted & ~truth).sum())
        self.fn += int((~predicted & truth).sum())
        self.tn += int((~predicted & ~truth).sum())

    def pixel_accuracy(self) -> float:
        total = self.tp + self.fp + self.fn + self.tn
        return (self.tp + self.tn) / total if total else 0.0

    def iou(self) -> float:
        union = self.tp + self.fp + self.fn
        return self.tp / union if union else 1.0

    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 1.0


# Probabilities are clipped this far from 0 and 1 before the log-loss: one confident mistake
# must not make the figure infinite.
LOG_LOSS_CLIP = 1e-4


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities clipped to [LOG_LOSS_CLIP, 1 - LOG_LOSS_CLIP]."""
    from sklearn.metrics import log_loss as sklearn_log_loss

    clipped = np.clip(np.asarray(probabilities, np.float64), LOG_LOSS_CLIP, 1 - LOG_LOSS_CLIP)
    return float(sklearn_log_loss(labels, clipped, labels=[0, 1]))
