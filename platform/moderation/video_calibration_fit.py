"""Fitting and measuring the video-level calibration (`manage.py calibrate_video_detection`).

Labelled videos (`moderation.labelled_videos`) are generated over the detectors' calibration and
test stills, decoded and sampled as the analysis does (`factcheck.video_store.video_samples`:
one frame per DETECTION_SAMPLE_S, at most 512 px) and judged frame by frame by the configured
detectors (`video_detection.frames_judge`). Two small models of the aggregate are compared by
out-of-fold log-loss on the calibration split, folds grouped by source still: Platt scaling of
the top-quarter mean (2 parameters) and a logistic model over the top-quarter mean, the highest
frame and the share of flagged frames (4 parameters). The better one is refitted on the whole
calibration split and measured, with the uncalibrated aggregate beside it, on the test split.
"""

from __future__ import annotations

import datetime
import json
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detection.core.calibration import FusionModel, PlattCalibrator
from detection.evaluation import metrics
from detection.selectors import configured_network_config
from factcheck.video_store import sample_interval, video_samples
from mediastore.videos import inspect_video
from moderation.labelled_videos import LabelledVideo, labelled_videos
from moderation.video_calibration import (
    FEATURES,
    VideoCalibrator,
    aggregate_features,
    calibration_document,
    calibration_path,
    detector_stamp,
)
from moderation.video_detection import DETECTION_SAMPLE_S, frames_judge

# Folds of the grouped cross-validation that picks the model (fewer when fewer stills).
SELECTION_FOLDS = 5
# The logistic model must beat Platt's out-of-fold log-loss by this much to be chosen: with
# twice the parameters, a smaller gain is within the folds' noise.
SELECTION_MARGIN = 0.005
RELIABILITY_BINS = 10
# Split seed when the detector config records no training seed (train_detector's default).
DEFAULT_SPLIT_SEED = 1234

Progress = Callable[[list[LabelledVideo]], Iterable[LabelledVideo]]


@dataclass(frozen=True)
class ScoredVideo:
    video: LabelledVideo
    frame_probabilities: tuple[float, ...]
    features: dict[str, float]


def video_score(video: LabelledVideo) -> ScoredVideo | None:
    """The detectors' aggregate features of one video (None when no frame can be judged)."""
    content = video.path.read_bytes()
    info = inspect_video(content)
    interval = sample_interval(info.duration_s or 0.0, DETECTION_SAMPLE_S)
    judged = frames_judge(video_samples(content, sample_every_s=interval)).judged
    if not judged:
        return None
    probabilities = tuple(p for _, p in judged)
    return ScoredVideo(video, probabilities, aggregate_features(probabilities))


def _scored(videos: list[LabelledVideo], progress: Progress | None) -> list[ScoredVideo]:
    found = [video_score(v) for v in (progress(videos) if progress else videos)]
    return [s for s in found if s is not None]


def _labels(scored: list[ScoredVideo]) -> np.ndarray:
    return np.array([int(s.video.manipulated) for s in scored])


def _fit(method: str, scored: list[ScoredVideo]) -> VideoCalibrator:
    labels = _labels(scored)
    if method == "platt":
        top = np.array([s.features["top_mean"] for s in scored])
        return VideoCalibrator("platt", platt=PlattCalibrator.fit(top, labels))
    rows = [s.features for s in scored]
    return VideoCalibrator("logistic_regression", model=FusionModel.fit(rows, labels, [*FEATURES]))


def _log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(labels, probabilities, labels=[0, 1]))


def model_select(scored: list[ScoredVideo]) -> tuple[str, dict[str, float]]:
    """The method with the lower out-of-fold log-loss (folds grouped by source still), Platt
    unless the logistic model is better by SELECTION_MARGIN, among those whose fit on the whole
    calibration split is monotone; and each method's log-loss. Raises ValueError when neither
    fit rises with the frames' probabilities (nothing worth storing)."""
    from sklearn.model_selection import GroupKFold

    labels = _labels(scored)
    groups = [s.video.source for s in scored]
    folds = min(SELECTION_FOLDS, len(set(groups)))
    losses: dict[str, float] = {}
    for method in ("platt", "logistic_regression"):
        predicted = np.zeros(len(scored))
        for train, held in GroupKFold(n_splits=folds).split(scored, labels, groups):
            if len(set(labels[train])) < 2:  # a fold without both labels cannot be fitted
                predicted[held] = labels[train].mean()
                continue
            calibrator = _fit(method, [scored[i] for i in train])
            predicted[held] = [calibrator.probability(scored[i].features) for i in held]
        losses[method] = round(_log_loss(predicted, labels), 4)
    monotone = {m for m in losses if _fit(m, scored).monotone()}
    if not monotone:
        raise ValueError(
            "neither fit rises with the frames' probabilities on the calibration split "
            f"(out-of-fold log-loss {losses}); no calibration stored"
        )
    better = losses["logistic_regression"] < losses["platt"] - SELECTION_MARGIN
    if monotone == {"logistic_regression"} or (better and "logistic_regression" in monotone):
        return "logistic_regression", losses
    return "platt", losses


def reliability(probabilities: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    """Per equal-width bin with videos in it (metrics.reliability_bins): the bin, its count,
    mean probability and the observed share of manipulated videos."""
    return [
        {
            "bin": [round(found.lower, 2), round(found.upper, 2)],
            "videos": found.count,
            "mean_probability": round(found.mean_probability, 4),
            "observed": round(found.fraction_positive, 4),
        }
        for found in metrics.reliability_bins(probabilities, labels, RELIABILITY_BINS)
    ]


def measured(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    return {
        "auc": round(metrics.roc_auc(probabilities, labels), 4),
        "accuracy_at_0_5": round(metrics.accuracy(probabilities, labels, 0.5), 4),
        "ece": round(metrics.expected_calibration_error(probabilities, labels), 4),
        "ece_sampling_floor": round(metrics.ece_sampling_floor(probabilities), 4),
        "log_loss": round(_log_loss(probabilities, labels), 4),
        "reliability": reliability(probabilities, labels),
    }


def by_kind(scored: list[ScoredVideo], calibrator: VideoCalibrator) -> dict[str, Any]:
    """Per kind of video: how many, and their mean probability before and after calibration."""
    kinds: dict[str, list[ScoredVideo]] = {}
    for entry in scored:
        kinds.setdefault(entry.video.kind, []).append(entry)
    return {
        kind: {
            "videos": len(rows),
            "mean_uncalibrated": round(float(np.mean([r.features["top_mean"] for r in rows])), 4),
            "mean_calibrated": round(
                float(np.mean([calibrator.probability(r.features) for r in rows])), 4
            ),
        }
        for kind, rows in sorted(kinds.items())
    }


def _split_seed(config: Path) -> int:
    training = json.loads(config.read_text()).get("training")
    seed = training.get("seed") if isinstance(training, dict) else None
    return int(seed) if isinstance(seed, int) else DEFAULT_SPLIT_SEED


def _counts(scored: list[ScoredVideo]) -> dict[str, Any]:
    labels = _labels(scored)
    return {
        "videos": len(scored),
        "manipulated": int(labels.sum()),
        "whole_video_edits": sum(s.video.whole for s in scored),
        "downscaled": sum(s.video.downscaled for s in scored),
        "stills": len({s.video.source for s in scored}),
    }


def video_calibration_fit(
    *,
    videos: int,
    seed: int,
    output: Path | None = None,
    work_dir: Path | None = None,
    progress: Progress | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Generate, score, select, fit and measure; with `write`, store the calibration JSON
    (default: next to the configured detector config). Returns the stored document."""
    began = time.perf_counter()
    config = configured_network_config()
    stamp = detector_stamp(config)
    split_seed = _split_seed(config)
    with tempfile.TemporaryDirectory(prefix="video-calibration-") as scratch:
        directory = work_dir or Path(scratch)
        fit_set = _scored(
            labelled_videos(
                "calibration", count=videos, seed=seed, split_seed=split_seed, directory=directory
            ),
            progress,
        )
        test_set = _scored(
            labelled_videos(
                "test", count=videos, seed=seed, split_seed=split_seed, directory=directory
            ),
            progress,
        )
    if len(set(_labels(fit_set))) < 2 or len(set(_labels(test_set))) < 2:
        raise ValueError("too few judged videos of each label to fit and measure; raise --videos")
    method, losses = model_select(fit_set)
    calibrator = _fit(method, fit_set)
    labels = _labels(test_set)
    before = np.array([s.features["top_mean"] for s in test_set])
    after = np.array([calibrator.probability(s.features) for s in test_set])
    document = calibration_document(
        calibrator=calibrator,
        stamp=stamp,
        fitted={
            "fitted_on": {"split": "calibration", "split_seed": split_seed, "seed": seed}
            | _counts(fit_set),
            "selection": {
                "out_of_fold_log_loss": losses,
                "folds": f"GroupKFold by source still, at most {SELECTION_FOLDS}",
                "chosen": method,
            },
            "test": {"split": "test", "split_seed": split_seed, "seed": seed}
            | _counts(test_set)
            | {
                "uncalibrated": measured(before, labels),
                "calibrated": measured(after, labels),
                "by_kind": by_kind(test_set, calibrator),
            },
            "command": f"python manage.py calibrate_video_detection --videos {videos} "
            f"--seed {seed}",
            "fitted_at": datetime.date.today().isoformat(),
            "seconds": round(time.perf_counter() - began, 1),
        },
    )
    if write:
        target = output or calibration_path(config)
        target.write_text(json.dumps(document, indent=1) + "\n")
    return document
