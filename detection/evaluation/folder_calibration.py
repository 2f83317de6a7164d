"""Calibration of the active detectors on a labelled folder (`manage.py calibrate_detectors`).

The folder is split once, stratified by label, into a fit part and a held-out part (`holdout`).
On the fit part: the logistic-regression fusion over the detectors' features, and for the fused
probability a Platt and an isotonic step, each fitted on out-of-fold fused probabilities (so the
step learns the fusion's behaviour on images it was not fitted on); for each detector's score a
Platt and an isotonic calibrator; the map threshold with the best pixel F1.

The rule: of Platt and isotonic, the one with the lower log-loss on the held-out part is kept
(log-loss is a proper scoring rule and needs no binning; ECE with 10 bins is too noisy on ~100
images to choose by). For the fused probability, no step at all is a third candidate: the
logistic-regression fusion is itself a Platt-type model, and on 300 generated images a step
fitted on out-of-fold probabilities was worse than none (docs/benchmarks.md). Every figure
reported is measured on the held-out part. The choice is made on that part too, so the chosen
method's held-out figures are slightly optimistic (a choice among two or three).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detection.core.calibration import (
    CALIBRATORS,
    Calibrator,
    FusionModel,
    SuiteCalibration,
)
from detection.core.interface import DetectorResult
from detection.core.registry import UNCALIBRATED_THRESHOLD, fusion_row
from detection.evaluation.evaluate import FUSION_FEATURES
from detection.evaluation.metrics import PixelCounts, log_loss
from detection.evaluation.outputs import (
    MAP_THRESHOLDS,
    Outputs,
    has_masks,
    pixel_counts,
    probability_metrics,
)

DEFAULT_HOLDOUT = 0.3
# Out-of-fold folds for the fused probability's calibration data (fewer when a class is small).
FUSION_FOLDS = 5
SELECTION_RULE = (
    "Platt or isotonic (for the fused probability also none), whichever has the lower "
    "log-loss on the held-out part; figures on the held-out part"
)
NO_STEP = "none"


def fusion_features(results: dict[str, DetectorResult]) -> list[str]:
    """The fusion's inputs: the curated features (evaluate.FUSION_FEATURES) of the detectors
    that give them, and the score (as a logit) of any other detector."""
    row = fusion_row(results)
    features: list[str] = []
    for name in results:
        curated = [f for f in FUSION_FEATURES if f.startswith(f"{name}.") and f in row]
        features += curated or [f"{name}.score"]
    return features


def split_indices(labels: np.ndarray, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) indices, stratified by label; ValueError when a part would lack a class."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be between 0 and 1, got {holdout}")
    indices = np.arange(labels.size)
    try:
        fit, held_out = train_test_split(
            indices, test_size=holdout, stratify=labels, random_state=seed
        )
    except ValueError as error:
        raise ValueError(f"cannot hold out {holdout} of {labels.size} images: {error}") from None
    for part, name in ((fit, "fit"), (held_out, "held-out")):
        if len(set(labels[part])) < 2:
            raise ValueError(f"the {name} part has one class only; use more images or holdout")
    return np.sort(fit), np.sort(held_out)


def _choose(
    fit_scores: np.ndarray,
    fit_labels: np.ndarray,
    held_scores: np.ndarray,
    held: np.ndarray,
    *,
    allow_none: bool = False,
) -> tuple[Calibrator | None, dict[str, float]]:
    """Platt and isotonic fitted on the fit scores (and, with allow_none, no step); the lowest
    held-out log-loss wins."""
    fitted: dict[str, Calibrator | None] = {
        name: kind.fit(fit_scores, fit_labels) for name, kind in CALIBRATORS.items()
    }
    if allow_none:
        fitted[NO_STEP] = None
    losses = {
        name: round(log_loss(held_scores if c is None else c(held_scores), held), 4)
        for name, c in fitted.items()
    }
    return fitted[min(losses, key=losses.__getitem__)], losses


def _method(step: Calibrator | None) -> str:
    return NO_STEP if step is None else str(step.to_dict()["method"])


def _applied(step: Calibrator | None, scores: np.ndarray) -> np.ndarray:
    return scores if step is None else np.asarray(step(scores), dtype=np.float64)


def _out_of_fold(
    rows: list[dict[str, float]], labels: np.ndarray, features: list[str], seed: int
) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    folds = min(FUSION_FOLDS, int(np.bincount(labels, minlength=2).min()))
    predicted = np.zeros(labels.size)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(labels.size), labels):
        fold = FusionModel.fit([rows[i] for i in train], labels[train], features)
        predicted[test] = [fold.predict(rows[i]) for i in test]
    return predicted


def calibrate_outputs(
    outputs: Outputs, *, holdout: float = DEFAULT_HOLDOUT, seed: int = 1234
) -> SuiteCalibration:
    """Fit everything on the fit part; the returned calibration's `report` holds the held-out
    figures (metrics, per-detector metrics, pixel F1, the candidates' log-losses)."""
    labels = outputs.labels()
    fit, held = split_indices(labels, holdout, seed)
    names = list(outputs.detectors)
    rows = [fusion_row(item.results) for item in outputs.items]
    features = fusion_features(outputs.items[0].results)
    fusion = FusionModel.fit([rows[i] for i in fit], labels[fit], features)
    held_raw = np.array([fusion.predict(rows[i]) for i in held])
    fusion_step, fusion_losses = _choose(
        _out_of_fold([rows[i] for i in fit], labels[fit], features, seed),
        labels[fit],
        held_raw,
        labels[held],
        allow_none=True,
    )
    score_calibrations: dict[str, Calibrator] = {}
    detector_report: dict[str, Any] = {}
    for name in names:
        scores = np.array([item.results[name].score for item in outputs.items])
        step, losses = _choose(scores[fit], labels[fit], scores[held], labels[held])
        assert step is not None  # no step is a candidate for the fused probability only
        score_calibrations[name] = step
        detector_report[name] = {
            "method": _method(step),
            "held_out_log_loss": losses,
            **_without_bins(probability_metrics(step(scores[held]), labels[held])),
        }
    thresholds = {"likely_manipulated": UNCALIBRATED_THRESHOLD}
    segmentation = None
    if has_masks(outputs, fit) and has_masks(outputs, held):
        thresholds["map"] = max(
            MAP_THRESHOLDS, key=lambda t: pixel_counts(outputs, fit, t, names, fusion).f1()
        )
        counts = pixel_counts(outputs, held, thresholds["map"], names, fusion)
        segmentation = _segmentation(counts, thresholds["map"], outputs, held)
    report = {
        "fitted_on": {
            "images": int(labels.size),
            "manipulated": int(labels.sum()),
            "fit_images": int(fit.size),
            "held_out_images": int(held.size),
            "holdout": holdout,
            "seed": seed,
            "rule": SELECTION_RULE,
            "skipped": outputs.skipped,
            "seconds": outputs.seconds,
        },
        "metrics": {
            "fused": {
                "method": _method(fusion_step),
                "held_out_log_loss": fusion_losses,
                **probability_metrics(_applied(fusion_step, held_raw), labels[held]),
            },
            "fused_uncalibrated": _without_bins(probability_metrics(held_raw, labels[held])),
            "detectors": detector_report,
            "segmentation": segmentation,
            "mean_detector_ms": outputs.mean_detector_ms,
        },
    }
    return SuiteCalibration(
        detectors=dict(outputs.detectors),
        fusion=fusion,
        fusion_calibration=fusion_step,
        score_calibrations=score_calibrations,
        thresholds=thresholds,
        report=report,
    )


def _without_bins(found: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in found.items() if key != "reliability"}


def _segmentation(
    counts: PixelCounts, threshold: float, outputs: Outputs, indices: np.ndarray
) -> dict[str, object]:
    return {
        "map_threshold": threshold,
        "pixel_f1": round(counts.f1(), 4),
        "pixel_iou": round(counts.iou(), 4),
        "masked_images": sum(outputs.items[i].mask is not None for i in indices),
    }
