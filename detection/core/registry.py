"""Builds enabled detectors from configs and runs them into the report's `detection` section."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from detection.core.calibration import (
    Calibrator,
    FusionModel,
    PlattCalibrator,
    SuiteCalibration,
    calibrator_from_dict,
    logit,
)
from detection.core.faces import (
    CropScorer,
    FaceFinder,
    analyze_faces,
    build_face_finder,
    scaled_face_dict,
)
from detection.core.forensics import ForensicDetector
from detection.core.imaging import check_applicable, to_rgb_uint8
from detection.core.interface import Detector, DetectorConfig, DetectorResult

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DEFAULT_NETWORK_CONFIG = MODELS_DIR / "multitask-v3.json"
# The training-free signals' configs (shipped files, so DETECTION_DETECTORS can list them too).
FORENSIC_CONFIG_FILES = tuple(MODELS_DIR / f"{kind}.json" for kind in ForensicDetector.FUNCTIONS)
FORENSIC_CONFIGS = tuple(DetectorConfig.from_json(path) for path in FORENSIC_CONFIG_FILES)
# Used only when no fitted fusion is available: a detector's score is then reported as is.
UNCALIBRATED_THRESHOLD = 0.5
# Map threshold when no calibration chose one: a map value is a per-pixel probability-like score.
DEFAULT_MAP_THRESHOLD = 0.5
MAX_REASONS = 6
# A shadow detector's error message is cut to this many characters in the report.
MAX_SHADOW_ERROR_LENGTH = 300
# Larger images are analysed downscaled (area interpolation) and the map is resized back to the
# image grid: full-resolution forensics on a 50 MP upload (mediastore's cap) take seconds per
# signal and over a gigabyte of float maps, while 16 MP keeps a phone photo at full resolution.
MAX_ANALYSIS_PIXELS = 16_000_000


def default_configs(network_config: Path | None = DEFAULT_NETWORK_CONFIG) -> list[DetectorConfig]:
    configs = list(FORENSIC_CONFIGS)
    if network_config is not None and Path(network_config).is_file():
        configs.insert(0, DetectorConfig.from_json(network_config))
    return configs


def build_detector(config: DetectorConfig) -> Detector:
    """The detector a config declares; errors (ValueError and its subclasses) name the file."""
    if config.runtime is not None:
        from detection.core.runtimes import model_detector  # runtimes load only when needed

        return model_detector(config)
    if config.kind == "multitask":
        from detection.core.inference import MultiTaskDetector  # torch only when needed

        weights = config.weights_path()
        if weights is None:
            raise ValueError(f"detector {config.name} needs a weights file")
        return MultiTaskDetector(
            config.name,
            config.version,
            weights,
            **{k: v for k, v in config.params.items() if k in ("max_side", "tile")},
        )
    if config.kind in ForensicDetector.FUNCTIONS:
        return ForensicDetector(config.name, config.version, config.kind)
    raise ValueError(f"unknown detector kind {config.kind!r} for {config.name}")


@dataclass
class DetectionSuite:
    """Everything analyze_image needs; build once per worker process and reuse."""

    detectors: list[Detector]
    fusion: FusionModel | None = None
    threshold: float = UNCALIBRATED_THRESHOLD
    face_finder: FaceFinder | None = None
    calibration_source: str | None = None
    configs: list[DetectorConfig] = field(default_factory=list)
    # Face crops reuse the network's whole-image calibration (no face-level calibration set).
    face_calibration: Calibrator | None = None
    # Shadow detectors run and are reported (detection.shadow) but never reach the fusion, the
    # map, the faces or the reasons.
    shadow: list[Detector] = field(default_factory=list)
    shadow_configs: list[DetectorConfig] = field(default_factory=list)
    # Scores face crops: the first active detector whose config asks for it (None: no scores).
    face_scorer: CropScorer | None = None
    # Applied to the fused probability (a labelled folder's isotonic or Platt step).
    fusion_calibration: Calibrator | None = None
    # Detector name -> calibrator of its score (reported as the detector's `probability`).
    score_calibrations: dict[str, Calibrator] = field(default_factory=dict)
    map_threshold: float = DEFAULT_MAP_THRESHOLD


def build_suite(
    configs: list[DetectorConfig] | None = None,
    *,
    faces: bool = True,
    yunet_model: Path | str | None = None,
    face_finder: str = "auto",
    calibration: SuiteCalibration | None = None,
) -> DetectionSuite:
    """Enabled detectors + the fusion model stored in the network config (if any), or the
    fitted `calibration` of a labelled folder (which replaces it and must match the detectors);
    configs marked `shadow` are built into `suite.shadow` and take no part in the verdict."""
    configs = default_configs() if configs is None else configs
    enabled = [c for c in configs if c.enabled]
    names = [c.name for c in enabled]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        sources = [c.source_path or c.name for c in enabled if c.name in repeated]
        raise ValueError(f"detector names must be unique, {repeated} repeat in {sources}")
    active = [c for c in enabled if not c.shadow]
    shadow = [c for c in enabled if c.shadow]
    if not active:
        sources = [c.source_path or c.name for c in configs]
        raise ValueError(f"no enabled detector outside shadow mode among {sources}")
    suite = DetectionSuite(
        [build_detector(c) for c in active],
        configs=active,
        shadow=[build_detector(c) for c in shadow],
        shadow_configs=shadow,
    )
    for config, detector in zip(active, suite.detectors, strict=True):
        wants_faces = config.faces is None or config.faces.policy == "crops"
        if suite.face_scorer is None and wants_faces and isinstance(detector, CropScorer):
            suite.face_scorer = detector
        fusion = config.params.get("fusion")
        if fusion:
            suite.fusion = FusionModel.from_dict(fusion)
            suite.threshold = float(
                config.thresholds.get("likely_manipulated", UNCALIBRATED_THRESHOLD)
            )
            suite.map_threshold = float(config.thresholds.get("map", DEFAULT_MAP_THRESHOLD))
            suite.calibration_source = config.source_path
        platt = config.params.get("network_calibration")
        if platt:
            suite.face_calibration = PlattCalibrator(
                float(platt["slope"]), float(platt["intercept"])
            )
        score_calibration = config.params.get("score_calibration")
        if score_calibration:
            suite.score_calibrations[config.name] = calibrator_from_dict(score_calibration)
    if calibration is not None:
        _apply_calibration(suite, calibration)
    if faces:
        suite.face_finder = build_face_finder(face_finder, yunet_model)
    return suite


def _apply_calibration(suite: DetectionSuite, calibration: SuiteCalibration) -> None:
    calibration.check_detectors({d.name: d.version for d in suite.detectors})
    suite.fusion = calibration.fusion
    suite.fusion_calibration = calibration.fusion_calibration
    suite.score_calibrations = dict(calibration.score_calibrations)
    suite.threshold = calibration.thresholds.get("likely_manipulated", UNCALIBRATED_THRESHOLD)
    suite.map_threshold = calibration.thresholds.get("map", DEFAULT_MAP_THRESHOLD)
    suite.calibration_source = calibration.source_path
    scorer = next((d.name for d in suite.detectors if id(d) == id(suite.face_scorer)), None)
    if scorer is not None and scorer in suite.score_calibrations:
        suite.face_calibration = suite.score_calibrations[scorer]


def fusion_row(results: dict[str, DetectorResult]) -> dict[str, float]:
    """Flatten detector outputs into named fusion features (score as a logit + raw features)."""
    row: dict[str, float] = {}
    for name, result in results.items():
        row[f"{name}.score"] = float(logit(result.score))
        row.update({f"{name}.{key}": float(value) for key, value in result.features.items()})
    return row


def fused_map(
    results: dict[str, DetectorResult], fusion: FusionModel | None, shape: tuple[int, int]
) -> np.ndarray:
    """Per-pixel weighted mean of detector maps; weights are each detector's positive fusion
    weight (so a detector the calibration found useless does not paint the map)."""
    total = np.zeros(shape, np.float32)
    weight_sum = 0.0
    for name, result in results.items():
        if result.map is None:
            continue
        weight = 1.0
        if fusion is not None:
            weights = [
                w
                for f, w in zip(fusion.features, fusion.weights, strict=True)
                if f.startswith(f"{name}.")
            ]
            weight = max(0.0, sum(weights)) if weights else 0.0
        if weight > 0:
            total += weight * result.map
            weight_sum += weight
    fused = total / weight_sum if weight_sum else total
    return np.rint(np.clip(fused, 0.0, 1.0) * 255).astype(np.uint8)


def _not_applicable(reason: str, started: float) -> dict[str, Any]:
    return {
        "applicable": False,
        "detection": {"manipulation_probability": None, "detectors": [], "faces": []},
        "forensic_map": None,
        "models": {},
        "model_details": [],
        "reasons": [reason],
        "timings_ms": {"total": round((time.perf_counter() - started) * 1000, 1)},
    }


def suite_probability(results: dict[str, DetectorResult], suite: DetectionSuite) -> float:
    """The manipulation probability: fusion, then its calibration step when one was fitted."""
    if suite.fusion is not None:
        fused = suite.fusion.predict(fusion_row(results))
        if suite.fusion_calibration is not None:
            fused = float(suite.fusion_calibration(fused))
        return fused
    # Without calibration data the most informative single detector speaks (network first).
    return next(iter(results.values())).score


def _reasons(
    probability: float,
    suite: DetectionSuite,
    results: dict[str, DetectorResult],
    faces: list[dict[str, Any]],
) -> list[str]:
    verdict = (
        "likely manipulated" if probability >= suite.threshold else "no clear sign of manipulation"
    )
    calibrated = "calibrated" if suite.fusion is not None else "uncalibrated"
    reasons = [
        f"{verdict}: {calibrated} manipulation probability {probability:.2f} "
        f"(threshold {suite.threshold:.2f}, {len(results)} detectors)"
    ]
    suspicious_faces = [f for f in faces if (f["manipulation_probability"] or 0) >= suite.threshold]
    if suspicious_faces:
        reasons.append(f"{len(suspicious_faces)} of {len(faces)} faces look manipulated")
    ordered = sorted(results.values(), key=lambda r: r.score, reverse=True)
    reasons += [r.explanation for r in ordered]
    return reasons[:MAX_REASONS]


def analyze_image(
    image: np.ndarray | Image.Image, suite: DetectionSuite | list[Detector]
) -> dict[str, Any]:
    """Run every detector; returns the report's `detection` section plus the fused
    `forensic_map` (uint8 HxW, image grid; not JSON - the caller stores it as PNG), `models`,
    `reasons` (most important first), `timings_ms` and `applicable`.

    A bare list of detectors is accepted (no fusion, no faces) for experiments and tests.
    Raises imaging.UnsupportedImageError for pixel layouts that cannot be converted.
    """
    if not isinstance(suite, DetectionSuite):
        suite = DetectionSuite(list(suite))
    started = time.perf_counter()
    image = to_rgb_uint8(image)
    not_applicable = check_applicable(image)
    if not_applicable is not None:
        return _not_applicable(not_applicable.reason, started)
    full_shape = image.shape[:2]
    image, scale = bounded_for_analysis(image)
    found = _analyze_applicable(image, suite)
    if scale != 1.0:
        height, width = full_shape
        found["forensic_map"] = cv2.resize(
            found["forensic_map"], (width, height), interpolation=cv2.INTER_LINEAR
        )
        found["detection"]["faces"] = [
            scaled_face_dict(face, 1 / scale) for face in found["detection"]["faces"]
        ]
        found["reasons"].insert(
            1,
            f"analysed at {image.shape[1]}x{image.shape[0]} px, downscaled from "
            f"{width}x{height} (limit {MAX_ANALYSIS_PIXELS // 1_000_000} MP)",
        )
        found["reasons"] = found["reasons"][:MAX_REASONS]
    found["timings_ms"]["total"] = round((time.perf_counter() - started) * 1000, 1)
    return found


def bounded_for_analysis(image: np.ndarray) -> tuple[np.ndarray, float]:
    """(image at most MAX_ANALYSIS_PIXELS, scale factor applied)."""
    height, width = image.shape[:2]
    if height * width <= MAX_ANALYSIS_PIXELS:
        return image, 1.0
    scale = (MAX_ANALYSIS_PIXELS / (height * width)) ** 0.5
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), size[0] / width


def detector_results(
    image: np.ndarray, detectors: list[Detector]
) -> tuple[dict[str, DetectorResult], dict[str, float]]:
    """Each detector's result on an applicable, bounded image, and its wall time in ms."""
    results: dict[str, DetectorResult] = {}
    timings: dict[str, float] = {}
    for detector in detectors:
        began = time.perf_counter()
        results[detector.name] = detector.analyze(image)
        timings[detector.name] = round((time.perf_counter() - began) * 1000, 1)
    return results, timings


def _detector_entry(
    detector: Detector, result: DetectorResult, suite: DetectionSuite
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": detector.name,
        "version": detector.version,
        "score": round(result.score, 4),
    }
    calibrate = suite.score_calibrations.get(detector.name)
    if calibrate is not None:
        entry["probability"] = round(float(calibrate(result.score)), 4)
    return entry


def _analyze_applicable(image: np.ndarray, suite: DetectionSuite) -> dict[str, Any]:
    """Detectors, faces, fusion and reasons; analyze_image adds timings_ms["total"]."""
    results, timings = detector_results(image, suite.detectors)
    faces: list[dict[str, Any]] = []
    if suite.face_finder is not None:
        began = time.perf_counter()
        scorer = suite.face_scorer
        if not suite.configs:  # a bare list of detectors: the first that can score crops
            scorer = next((d for d in suite.detectors if isinstance(d, CropScorer)), None)
        found = analyze_faces(image, suite.face_finder, scorer)
        if suite.face_calibration is not None:
            calibrate = suite.face_calibration
            found = [
                replace(f, manipulation_probability=float(calibrate(f.manipulation_probability)))
                if f.manipulation_probability is not None
                else f
                for f in found
            ]
        faces = [f.to_dict() for f in found]
        timings["faces"] = round((time.perf_counter() - began) * 1000, 1)
    probability = suite_probability(results, suite)
    detection = {
        "manipulation_probability": round(probability, 4),
        "detectors": [_detector_entry(d, results[d.name], suite) for d in suite.detectors],
        "faces": faces,
        "shadow": _shadow_results(image, suite, timings),
    }
    return {
        "applicable": True,
        "detection": detection,
        "forensic_map": fused_map(results, suite.fusion, image.shape[:2]),
        "models": {d.name: d.version for d in suite.detectors},
        "model_details": [c.stamp() for c in [*suite.configs, *suite.shadow_configs]],
        "reasons": _reasons(probability, suite, results, faces),
        "timings_ms": timings,
    }


def _shadow_results(
    image: np.ndarray, suite: DetectionSuite, timings: dict[str, float]
) -> list[dict[str, Any]]:
    """The report's `detection.shadow`: each shadow detector's score, or the error that stopped
    it (a model on trial must not fail the analysis of a real submission)."""
    found: list[dict[str, Any]] = []
    for detector in suite.shadow:
        began = time.perf_counter()
        entry: dict[str, Any] = {"name": detector.name, "version": detector.version}
        try:
            result = detector.analyze(image)
            entry["score"] = round(result.score, 4)
            if result.map is not None:
                entry["map_area"] = round(float((result.map > 0.5).mean()), 4)
        except Exception as error:  # any failure of a trial model is reported, never raised
            entry["score"] = None
            entry["error"] = f"{error.__class__.__name__}: {error}"[:MAX_SHADOW_ERROR_LENGTH]
        timings[f"shadow.{detector.name}"] = round((time.perf_counter() - began) * 1000, 1)
        found.append(entry)
    return found
