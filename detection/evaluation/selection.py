"""Model selection on the calibration split only: leave-one-source-group-out cross-validation of
the fusion's regularisation (and of an isotonic step on top), plus the network's own AUC there.

    python -m detection.evaluation.selection --config detection/models/multitask-v1.json

The test split is never read here, so choices made with it leave the held-out figures honest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from detection.core import calibration
from detection.core.interface import DetectorConfig
from detection.core.registry import build_detector
from detection.evaluation import metrics
from detection.evaluation.evaluate import (
    FUSION_FEATURES,
    _cache_path,
    _feature_matrix_rows,
    make_eval_samples,
    run_detectors,
)
from detection.training.sources import group_of_name

DEFAULT_C_VALUES = (1.0, 0.1, 0.03)


def grouped_predictions(
    rows: list[dict[str, float]],
    labels: np.ndarray,
    groups: np.ndarray,
    regularisation: float,
    isotonic: bool = False,
) -> np.ndarray:
    """Out-of-fold fused probabilities: each source group is predicted by a fusion fitted on
    the other groups (so the estimate includes the shift to unseen sources)."""
    predictions = np.zeros(len(labels))
    for group in sorted(set(groups)):
        held_out, fitted_on = groups == group, groups != group
        if len(set(labels[fitted_on])) < 2:
            raise ValueError(f"without group {group} only one class is left")
        train_rows = [rows[i] for i in np.flatnonzero(fitted_on)]
        fusion = calibration.FusionModel.fit(
            train_rows, labels[fitted_on], list(FUSION_FEATURES), regularisation=regularisation
        )
        predicted = np.array([fusion.predict(rows[i]) for i in np.flatnonzero(held_out)])
        if isotonic:
            in_fold = np.array([fusion.predict(row) for row in train_rows])
            step = calibration.IsotonicCalibrator.fit(in_fold, labels[fitted_on])
            predicted = step(predicted)
        predictions[held_out] = predicted
    return predictions


def select_fusion(
    config_path: Path,
    *,
    seed: int = 1234,
    count: int = 300,
    cache_dir: Path | None = None,
    c_values: tuple[float, ...] = DEFAULT_C_VALUES,
) -> dict[str, Any]:
    samples = make_eval_samples("calibration", seed, count)
    collected = run_detectors(
        build_detector(DetectorConfig.from_json(config_path)),
        samples,
        _cache_path(cache_dir, "calibration", seed, count),
    )
    labels = np.array(collected.labels)
    groups = np.array([group_of_name(sample.source) for sample in samples])
    rows = _feature_matrix_rows(collected)
    results: dict[str, Any] = {
        "split": "calibration",
        "images": len(labels),
        "source_groups": len(set(groups)),
        "network_auc": round(metrics.roc_auc(collected.network_scores, labels), 4),
        "fusion_cv": {},
    }
    for regularisation in c_values:
        for isotonic in (False, True):
            predicted = grouped_predictions(rows, labels, groups, regularisation, isotonic)
            name = f"C={regularisation:g}" + (" + isotonic" if isotonic else "")
            results["fusion_cv"][name] = {
                "auc": round(metrics.roc_auc(predicted, labels), 4),
                "ece": round(metrics.expected_calibration_error(predicted, labels), 4),
            }
    return results


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args(argv)
    result = select_fusion(args.config, seed=args.seed, count=args.count, cache_dir=args.cache_dir)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
