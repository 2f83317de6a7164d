"""Calibration (on the calibration split) and evaluation (on the test split) of the detectors.

Entry points:
  calibrate_detector(config_path, seed=..., count=...)  fits fusion + thresholds, updates JSON
  evaluate_detector(config_path, seed=..., count=...)   measures metrics on held-out test sources
Both build their images deterministically from `sources` splits, which are disjoint by source.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from detection.core.calibration import FusionModel, PlattCalibrator
from detection.core.interface import DetectorConfig, DetectorResult
from detection.core.registry import FORENSIC_CONFIGS, build_detector, fusion_row
from detection.evaluation import metrics
from detection.evaluation.timing import median_ms, timing_image
from detection.training.sources import load_split
from detection.training.synth import (
    MIN_FAKE_FRACTION,
    SHARED_MAX_SIDE,
    SHARED_MIN_SIDE,
    Sample,
    degrade,
    manipulate,
    random_crop,
)

EVAL_MIN_SIDE, EVAL_MAX_SIDE = SHARED_MIN_SIDE, SHARED_MAX_SIDE
MAP_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.95, 0.1))
FUSION_FEATURES = (
    "multitask.max_logit",
    "multitask.mean_logit",
    "multitask.map_peak",
    "multitask.map_area",
    "ela.score",
    "ela.suspicious_fraction",
    "noise.score",
    "jpeg_ghost.score",
    "jpeg_ghost.grid_mismatch",
)


def make_eval_samples(split: str, seed: int, count: int) -> list[Sample]:
    """Deterministic real/manipulated images (half each) of 512-1024 px from one split's
    sources, after the sharing degradations (resize + JPEG)."""
    named = load_split(split, seed)
    sources = [image for _, image in named]
    rng = np.random.default_rng(_split_seed(split, seed))
    samples = []
    for index in range(count):
        first, second = rng.choice(len(sources), 2, replace=False)
        image = sources[first]
        side = int(rng.integers(EVAL_MIN_SIDE, EVAL_MAX_SIDE + 1))
        side = min(side, *image.shape[:2])
        crop = random_crop(image, side, rng)
        if index % 2:
            sample = manipulate(crop, random_crop(sources[second], side, rng), rng)
            if sample.mask.mean() < MIN_FAKE_FRACTION:
                sample = Sample(crop, np.zeros(crop.shape[:2], np.uint8), "real")
        else:
            sample = Sample(crop, np.zeros(crop.shape[:2], np.uint8), "real")
        degraded = degrade(sample, rng)
        degraded.source = named[first][0]
        samples.append(degraded)
    return samples


def _split_seed(split: str, seed: int) -> int:
    return seed * 1000 + {"train": 1, "calibration": 2, "test": 3}[split]


@dataclass
class Collected:
    rows: list[dict[str, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    network_scores: list[float] = field(default_factory=list)
    map_counts: dict[float, metrics.PixelCounts] = field(default_factory=dict)  # fakes only
    map_counts_all: dict[float, metrics.PixelCounts] = field(default_factory=dict)
    timings_ms: dict[str, list[float]] = field(default_factory=dict)


def _forensic_rows(
    samples: list[Sample], cache: Path | None
) -> tuple[list[dict[str, float]], dict[str, list[float]]]:
    """Fusion features and timings of the training-free signals; cached as JSON because they
    do not change when the network is retrained."""
    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text())
        if len(stored["rows"]) == len(samples):
            return stored["rows"], stored["timings_ms"]
    detectors = [build_detector(c) for c in FORENSIC_CONFIGS]
    rows: list[dict[str, float]] = []
    timings: dict[str, list[float]] = {d.name: [] for d in detectors}
    for sample in samples:
        results: dict[str, DetectorResult] = {}
        for detector in detectors:
            began = time.perf_counter()
            results[detector.name] = detector.analyze(sample.image)
            timings[detector.name].append((time.perf_counter() - began) * 1000)
        rows.append(fusion_row(results))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"rows": rows, "timings_ms": timings}))
    return rows, timings


def run_detectors(
    network: Any | None, samples: list[Sample], cache: Path | None = None
) -> Collected:
    """Network (optional) + forensic signals on every sample, with map confusion counts."""
    rows, timings = _forensic_rows(samples, cache)
    collected = Collected(
        map_counts={t: metrics.PixelCounts() for t in MAP_THRESHOLDS},
        map_counts_all={t: metrics.PixelCounts() for t in MAP_THRESHOLDS},
        timings_ms=dict(timings),
    )
    for sample, row in zip(samples, rows, strict=True):
        collected.labels.append(int(sample.mask.any()))
        collected.kinds.append(sample.kind)
        if network is None:
            collected.rows.append(dict(row))
            continue
        began = time.perf_counter()
        result = network.analyze(sample.image)
        collected.timings_ms.setdefault(network.name, []).append(
            (time.perf_counter() - began) * 1000
        )
        collected.rows.append({**row, **fusion_row({network.name: result})})
        collected.network_scores.append(result.score)
        for threshold in MAP_THRESHOLDS:
            predicted = result.map >= threshold
            collected.map_counts_all[threshold].add(predicted, sample.mask)
            if sample.mask.any():
                collected.map_counts[threshold].add(predicted, sample.mask)
    return collected


def _detectors(config: DetectorConfig) -> list[Any]:
    return [build_detector(config)] + [build_detector(c) for c in FORENSIC_CONFIGS]


def _cache_path(cache_dir: Path | None, split: str, seed: int, count: int) -> Path | None:
    return None if cache_dir is None else cache_dir / f"forensic-{split}-{seed}-{count}.json"


def precompute_forensics(split: str, *, seed: int, count: int, cache_dir: Path) -> Path:
    """Fill the forensic cache for one split (can run while the network trains)."""
    path = cache_dir / f"forensic-{split}-{seed}-{count}.json"
    _forensic_rows(make_eval_samples(split, seed, count), path)
    return path


def _feature_matrix_rows(collected: Collected) -> list[dict[str, float]]:
    return [{name: row.get(name, 0.0) for name in FUSION_FEATURES} for row in collected.rows]


def calibrate_detector(
    config_path: Path,
    *,
    seed: int = 1234,
    count: int = 300,
    cache_dir: Path | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Fit the fusion model, the network's Platt scaling and the map threshold on the
    calibration split. Returns {"fusion", "network_calibration", "thresholds", "calibration"}
    and, with write, stores them in the detector config JSON (config_path)."""
    config = DetectorConfig.from_json(config_path)
    collected = run_detectors(
        build_detector(config),
        make_eval_samples("calibration", seed, count),
        _cache_path(cache_dir, "calibration", seed, count),
    )
    labels = np.array(collected.labels)
    fusion = FusionModel.fit(_feature_matrix_rows(collected), labels, list(FUSION_FEATURES))
    platt = PlattCalibrator.fit(np.array(collected.network_scores), labels)
    map_threshold = max(MAP_THRESHOLDS, key=lambda t: collected.map_counts[t].f1())
    fused = np.array([fusion.predict(row) for row in collected.rows])
    fitted = {
        "fusion": fusion.to_dict(),
        "network_calibration": platt.to_dict(),
        "thresholds": {**config.thresholds, "likely_manipulated": 0.5, "map": map_threshold},
        "calibration": {
            "split": "calibration",
            "seed": seed,
            "images": len(labels),
            "manipulated": int(labels.sum()),
            "fused_ece_on_calibration": round(metrics.expected_calibration_error(fused, labels), 4),
            "map_threshold_f1_on_calibration": round(collected.map_counts[map_threshold].f1(), 4),
        },
    }
    if write:
        data = json.loads(Path(config_path).read_text())
        data.update(fitted)
        Path(config_path).write_text(json.dumps(data, indent=2) + "\n")
    return fitted


def _classification_metrics(
    scores: np.ndarray, labels: np.ndarray, threshold: float
) -> dict[str, float]:
    eer, _ = metrics.equal_error_rate(scores, labels)
    return {
        "auc": round(metrics.roc_auc(scores, labels), 4),
        "eer": round(eer, 4),
        "accuracy": round(metrics.accuracy(scores, labels, threshold), 4),
        "ece": round(metrics.expected_calibration_error(scores, labels), 4),
        "ece_sampling_floor": round(metrics.ece_sampling_floor(scores), 4),
    }


def time_network(config: DetectorConfig, repeats: int = 5) -> dict[str, float]:
    """Median per-detector wall time on timing.timing_image()."""
    image = timing_image()
    # Wall time only: the first of median_ms's (wall, cpu) pair.
    return {
        detector.name: median_ms(partial(detector.analyze, image), repeats)[0]
        for detector in _detectors(config)
    }


def evaluate_detector(
    config_path: Path,
    *,
    seed: int = 1234,
    count: int = 300,
    write: bool = True,
    cache_dir: Path | None = None,
    calibration: dict[str, Any] | None = None,
    timing: bool = True,
) -> dict[str, Any]:
    """Metrics on the held-out test sources (nothing here is fitted). `calibration` (what
    calibrate_detector returns) replaces the fusion and thresholds stored in the config."""
    config = DetectorConfig.from_json(config_path)
    stored = {**config.params, "thresholds": config.thresholds, **(calibration or {})}
    if "fusion" not in stored or "network_calibration" not in stored:
        raise ValueError(f"{config_path} has no calibration yet; calibrate it first")
    fusion = FusionModel.from_dict(stored["fusion"])
    platt = PlattCalibrator(
        stored["network_calibration"]["slope"], stored["network_calibration"]["intercept"]
    )
    thresholds = stored["thresholds"]
    map_threshold = thresholds.get("map", 0.5)
    collected = run_detectors(
        build_detector(config),
        make_eval_samples("test", seed, count),
        _cache_path(cache_dir, "test", seed, count),
    )
    labels = np.array(collected.labels)
    network = np.array(collected.network_scores)
    fused = np.array([fusion.predict(row) for row in collected.rows])
    results: dict[str, Any] = {
        "split": "test",
        "seed": seed,
        "images": len(labels),
        "manipulated": int(labels.sum()),
        "network_raw": _classification_metrics(network, labels, 0.5),
        "network_platt": _classification_metrics(platt(network), labels, 0.5),
        "fused": _classification_metrics(fused, labels, thresholds.get("likely_manipulated", 0.5)),
        "forensic_only_auc": {
            name: round(
                metrics.roc_auc([row[f"{name}.score"] for row in collected.rows], labels), 4
            )
            for name in ("ela", "noise", "jpeg_ghost")
        },
    }
    counts, counts_all = (
        collected.map_counts[map_threshold],
        collected.map_counts_all[map_threshold],
    )
    results["segmentation"] = {
        "map_threshold": map_threshold,
        "f1_manipulated_images": round(counts.f1(), 4),
        "iou_manipulated_images": round(counts.iou(), 4),
        "pixel_accuracy_manipulated_images": round(counts.pixel_accuracy(), 4),
        "pixel_accuracy_all_images": round(counts_all.pixel_accuracy(), 4),
        "f1_all_images": round(counts_all.f1(), 4),
    }
    results["fused_auc_by_kind"] = _auc_by_kind(collected, fused)
    results["mean_detector_ms_on_test_images"] = {
        name: round(float(np.mean(values)), 1) for name, values in collected.timings_ms.items()
    }
    if timing:
        results["median_detector_ms_1024px"] = time_network(config)
    if write:
        data = json.loads(Path(config_path).read_text())
        data["metrics"] = results
        Path(config_path).write_text(json.dumps(data, indent=2) + "\n")
    return results


def _auc_by_kind(collected: Collected, fused: np.ndarray) -> dict[str, float]:
    kinds = np.array(collected.kinds)
    real = kinds == "real"
    by_kind = {}
    for kind in sorted(set(collected.kinds) - {"real"}):
        selected = real | (kinds == kind)
        by_kind[kind] = round(metrics.roc_auc(fused[selected], ~real[selected]), 4)
    return by_kind


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Calibrate or evaluate the detectors.")
    parser.add_argument("action", choices=("calibrate", "evaluate", "precompute"))
    parser.add_argument("--config", type=Path, default=Path("detection/models/multitask-v1.json"))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--count", type=int, default=300, help="generated images to use")
    parser.add_argument("--cache-dir", type=Path, help="cache for training-free signal outputs")
    parser.add_argument("--split", choices=("calibration", "test"), default="calibration")
    args = parser.parse_args(argv)
    options = {"seed": args.seed, "count": args.count, "cache_dir": args.cache_dir}
    if args.action == "calibrate":
        result: Any = calibrate_detector(args.config, **options)
    elif args.action == "evaluate":
        result = evaluate_detector(args.config, **options)
    else:
        if args.cache_dir is None:
            parser.error("precompute needs --cache-dir")
        result = str(precompute_forensics(args.split, **options))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
