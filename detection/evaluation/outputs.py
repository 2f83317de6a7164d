"""Detector outputs on labelled items, kept small enough to fit and score a calibration in memory:
each detector's score and fusion features, and (for items with a mask) its map on a coarse grid.

Shared by `calibrate_detectors` (which fits on them) and `evaluate_detector --data / --compare`
(which applies a suite's calibration to them), so both see the detectors exactly as inference
runs them (registry.detector_results on the image bounded as analyze_image bounds it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from detection.core.calibration import FusionModel
from detection.core.imaging import check_applicable, to_rgb_uint8
from detection.core.interface import Detector, DetectorResult
from detection.core.registry import bounded_for_analysis, detector_results, fused_map
from detection.evaluation import metrics
from detection.training.userdata import LabelledItem

# Maps and masks are compared on a grid of at most this many pixels per side: pixel F1 is a ratio
# of areas, which a 256-px grid keeps to within its boundary pixels, and 300 images' maps then
# take ~80 MB instead of gigabytes at full size.
MAP_EVAL_SIDE = 256
# Candidate map thresholds (the fit part chooses one by pixel F1).
MAP_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.95, 0.1))

Progress = Callable[[Iterable[LabelledItem]], Iterable[LabelledItem]]


@dataclass
class ItemOutput:
    name: str
    label: int
    results: dict[str, DetectorResult]  # maps dropped (see maps)
    maps: dict[str, np.ndarray] = field(default_factory=dict)  # uint8 on the eval grid
    mask: np.ndarray | None = None  # {0, 1} on the eval grid; None when no mask was given


@dataclass
class Outputs:
    items: list[ItemOutput]
    skipped: list[str]  # "name: reason" of images the detectors cannot judge
    detectors: dict[str, str]  # name -> version, in run order
    seconds: float
    mean_detector_ms: dict[str, float]

    def labels(self, indices: np.ndarray | None = None) -> np.ndarray:
        chosen = self.items if indices is None else [self.items[i] for i in indices]
        return np.array([item.label for item in chosen], dtype=int)


def _eval_grid(shape: tuple[int, ...]) -> tuple[int, int]:
    height, width = shape[:2]
    scale = min(1.0, MAP_EVAL_SIDE / max(height, width))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_grid(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(values.astype(np.float32), size, interpolation=cv2.INTER_AREA)


def _item_output(
    item: LabelledItem, detectors: list[Detector]
) -> tuple[ItemOutput, dict[str, float]] | str:
    image, mask = item.load()
    image = to_rgb_uint8(image)
    not_applicable = check_applicable(image)
    if not_applicable is not None:
        return not_applicable.reason
    grid = _eval_grid(image.shape)
    bounded, _ = bounded_for_analysis(image)
    results, timings = detector_results(bounded, detectors)
    output = ItemOutput(item.name, item.label, {}, {})
    for name, result in results.items():
        output.results[name] = DetectorResult(result.score, None, "", dict(result.features))
        if mask is not None and result.map is not None:
            output.maps[name] = np.rint(_to_grid(result.map, grid) * 255).astype(np.uint8)
    if mask is not None:
        output.mask = (_to_grid(mask.astype(bool), grid) >= 0.5).astype(np.uint8)
    return output, timings


def collect_outputs(
    items: list[LabelledItem], detectors: list[Detector], progress: Progress | None = None
) -> Outputs:
    """Every detector on every item (FolderError from an unreadable file propagates)."""
    began = time.perf_counter()
    kept: list[ItemOutput] = []
    skipped: list[str] = []
    timings: dict[str, list[float]] = {d.name: [] for d in detectors}
    for item in progress(items) if progress else items:
        found = _item_output(item, detectors)
        if isinstance(found, str):
            skipped.append(f"{item.name}: {found}")
            continue
        output, item_timings = found
        for name, ms in item_timings.items():
            timings[name].append(ms)
        kept.append(output)
    return Outputs(
        kept,
        skipped,
        {d.name: d.version for d in detectors},
        round(time.perf_counter() - began, 1),
        {name: round(float(np.mean(ms)), 1) for name, ms in timings.items() if ms},
    )


def pixel_counts(
    outputs: Outputs,
    indices: np.ndarray,
    threshold: float,
    names: list[str],
    fusion: FusionModel | None,
) -> metrics.PixelCounts:
    """Confusion counts, over the chosen items that have a mask, of the map inference would show
    from the named detectors (registry.fused_map: weighted by the fusion, or one detector's own
    map when it is the only one named and fusion is None) at threshold."""
    counts = metrics.PixelCounts()
    for index in indices:
        item = outputs.items[index]
        if item.mask is None:
            continue
        map_results = {
            name: DetectorResult(item.results[name].score, item.maps[name] / 255.0, "")
            for name in names
            if name in item.maps
        }
        fused = fused_map(map_results, fusion, item.mask.shape)
        counts.add(fused >= round(threshold * 255), item.mask)
    return counts


def has_masks(outputs: Outputs, indices: np.ndarray) -> bool:
    return any(outputs.items[i].mask is not None and outputs.items[i].maps for i in indices)


def probability_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, object]:
    """AUC, ECE beside its sampling floor (metrics.ece_sampling_floor), log-loss, accuracy at
    0.5 and the reliability bins, for one set of calibrated probabilities."""
    ece = metrics.expected_calibration_error(probabilities, labels)
    floor = metrics.ece_sampling_floor(probabilities)
    return {
        "images": int(labels.size),
        "manipulated": int(labels.sum()),
        "auc": round(metrics.roc_auc(probabilities, labels), 4),
        "ece": round(ece, 4),
        "ece_sampling_floor": round(floor, 4),
        "ece_above_floor": round(ece - floor, 4),
        "log_loss": round(metrics.log_loss(probabilities, labels), 4),
        "accuracy": round(metrics.accuracy(probabilities, labels, 0.5), 4),
        "reliability": [
            {
                "lower": b.lower,
                "upper": b.upper,
                "count": b.count,
                "mean_probability": round(b.mean_probability, 4),
                "fraction_manipulated": round(b.fraction_positive, 4),
            }
            for b in metrics.reliability_bins(probabilities, labels)
        ],
    }
