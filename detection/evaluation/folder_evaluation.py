"""Evaluation of a built suite (its stored calibration applied, nothing fitted) on labelled items:
`manage.py evaluate_detector --data DIR` and `--compare` (shadow detectors beside the live set).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detection.core.calibration import Calibrator
from detection.core.registry import DetectionSuite, suite_probability
from detection.evaluation.outputs import Outputs, has_masks, pixel_counts, probability_metrics


def _detector_probabilities(
    outputs: Outputs, name: str, calibrate: Calibrator | None
) -> np.ndarray:
    scores = np.array([item.results[name].score for item in outputs.items])
    return scores if calibrate is None else np.asarray(calibrate(scores), dtype=np.float64)


def evaluate_outputs(
    outputs: Outputs, suite: DetectionSuite, shadow: dict[str, Calibrator | None] | None = None
) -> dict[str, Any]:
    """The live suite's fused probability and map, and each detector (live and shadow) alone:
    AUC, ECE beside its sampling floor, log-loss, reliability bins, pixel F1 at the suite's map
    threshold. Shadow detectors (name -> the score calibration their config carries) never
    enter the fused figures."""
    shadow = shadow or {}
    calibrations = {**suite.score_calibrations, **shadow}
    labels = outputs.labels()
    everything = np.arange(labels.size)
    live = [d.name for d in suite.detectors]
    fused = np.array(
        [
            suite_probability({name: item.results[name] for name in live}, suite)
            for item in outputs.items
        ]
    )
    masked = has_masks(outputs, everything)
    report: dict[str, Any] = {
        "images": int(labels.size),
        "manipulated": int(labels.sum()),
        "skipped": outputs.skipped,
        "calibrated": suite.fusion is not None,
        "calibration_source": suite.calibration_source,
        "fused": probability_metrics(fused, labels),
        "segmentation": None,
        "detectors": {},
        "mean_detector_ms": outputs.mean_detector_ms,
        "seconds": outputs.seconds,
    }
    if masked:
        counts = pixel_counts(outputs, everything, suite.map_threshold, live, suite.fusion)
        report["segmentation"] = {
            "map_threshold": suite.map_threshold,
            "pixel_f1": round(counts.f1(), 4),
            "pixel_iou": round(counts.iou(), 4),
            "masked_images": sum(item.mask is not None for item in outputs.items),
        }
    for name in [*live, *shadow]:
        calibrate = calibrations.get(name)
        found = probability_metrics(_detector_probabilities(outputs, name, calibrate), labels)
        found.pop("reliability")
        found["shadow"] = name in shadow
        found["calibrated"] = calibrate is not None
        if masked:
            counts = pixel_counts(outputs, everything, suite.map_threshold, [name], None)
            found["pixel_f1"] = round(counts.f1(), 4)
        report["detectors"][name] = found
    return report
