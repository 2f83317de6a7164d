"""Reads for the rest of the platform: detection on a decoded image, and the report's metadata.

The detection suite (network checkpoint, fusion, forensic signals, face finder) is built once per
process on first use and shared by every thread; it is rebuilt only when the settings that name
its files or its face finder change (tests override them).
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from detection.core.calibration import SuiteCalibration
from detection.core.explicit import explicit_regions
from detection.core.imaging import UnsupportedImageError
from detection.core.interface import DetectorConfig
from detection.core.metadata import MAX_TEXT_LENGTH, c2pa_summary, exif_summary
from detection.core.registry import (
    DEFAULT_NETWORK_CONFIG,
    FORENSIC_CONFIG_FILES,
    DetectionSuite,
    analyze_image,
    build_suite,
)
from detection.core.text_in_image import MODEL_NAME as TEXT_MODEL_NAME
from detection.core.text_in_image import MODEL_VERSION as TEXT_MODEL_VERSION
from detection.core.text_in_image import read_text
from mediastore.images import trailing_bytes


class DetectionUnavailable(RuntimeError):
    """The configured detector files are missing or unreadable; the message names the file."""


@dataclass
class DetectionOutcome:
    applicable: bool
    reason: str | None  # why the image cannot be judged (None when applicable)
    detection: dict[str, Any]  # report contract `detection` section
    forensic_map: np.ndarray | None  # uint8 0-255 on the image grid (None when not applicable)
    faces: list[dict[str, Any]] = field(default_factory=list)  # same as detection["faces"]
    reasons: list[str] = field(default_factory=list)  # plain language, most important first
    models: dict[str, str] = field(default_factory=dict)
    # Each detector's stamp (DetectorConfig.stamp): name, version, runtime, licence, source,
    # config hash, shadow.
    model_details: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


_suite_lock = threading.Lock()
_suite_cache: dict[tuple[tuple[str, ...], str | None, str, str | None], DetectionSuite] = {}


def configured_network_config() -> Path:
    """The network's detector config JSON named by settings (or the shipped default)."""
    configured = getattr(settings, "DETECTION_NETWORK_CONFIG", None)
    return (Path(configured).expanduser() if configured else DEFAULT_NETWORK_CONFIG).resolve()


def configured_detector_configs() -> tuple[Path, ...]:
    """The detector config files in force: DETECTION_DETECTORS when set, else the network's
    config (DETECTION_NETWORK_CONFIG or the shipped one) and the shipped forensic signals."""
    listed = getattr(settings, "DETECTION_DETECTORS", None)
    if listed:
        return tuple(Path(path).expanduser().resolve() for path in listed)
    return (configured_network_config(), *FORENSIC_CONFIG_FILES)


def _configured_paths() -> tuple[tuple[Path, ...], Path | None, Path | None]:
    """(detector configs, YuNet file, calibration file) in force."""
    yunet = getattr(settings, "YUNET_MODEL_FILE", None)
    calibration = getattr(settings, "DETECTION_CALIBRATION", None)
    return (
        configured_detector_configs(),
        Path(yunet).expanduser().resolve() if yunet else None,
        Path(calibration).expanduser().resolve() if calibration else None,
    )


def _configured_face_finder() -> str:
    return getattr(settings, "DETECTION_FACE_FINDER", None) or "auto"


def _load_configs(config_paths: tuple[Path, ...]) -> list[DetectorConfig]:
    """Every configured detector config, read and checked (no weights loaded)."""
    for path in config_paths:
        if not path.is_file():
            raise DetectionUnavailable(
                f"detector config not found: {path} "
                "(check DETECTION_DETECTORS or DETECTION_NETWORK_CONFIG)"
            )
    try:
        return [DetectorConfig.from_json(path) for path in config_paths]
    except ValueError as error:  # the message names the file
        raise DetectionUnavailable(f"cannot load the detectors: {error}") from error


def _build(
    config_paths: tuple[Path, ...],
    yunet_model: Path | None,
    face_finder: str,
    calibration: Path | None = None,
) -> DetectionSuite:
    from detection.core.network import CheckpointError  # torch only when a suite is built

    configs = _load_configs(config_paths)
    try:
        fitted = SuiteCalibration.from_json(calibration) if calibration else None
        return build_suite(
            configs, yunet_model=yunet_model, face_finder=face_finder, calibration=fitted
        )
    except (CheckpointError, ValueError, OSError, ImportError) as error:
        # CheckpointError / ValueError / FileNotFoundError messages already name the file;
        # ImportError: DETECTION_FACE_FINDER=mtcnn without facenet-pytorch.
        raise DetectionUnavailable(f"cannot load the detectors: {error}") from error


def active_detector_stamps() -> list[dict[str, Any]]:
    """The configured detectors' stamps (name, version, runtime, licence, commercial use,
    source, config hash, shadow), read from their configs without loading any model.

    Raises DetectionUnavailable naming the file when a config is missing or corrupt.
    """
    return [config.stamp() for config in _load_configs(_configured_paths()[0]) if config.enabled]


def detection_suite() -> DetectionSuite:
    """The process-wide suite for the current settings (built on first call, thread-safe).

    Raises DetectionUnavailable naming the file when a configured file is missing or corrupt;
    a failed build is not cached, so fixing the file and retrying works without a restart.
    """
    config_paths, yunet_model, calibration = _configured_paths()
    face_finder = _configured_face_finder()
    key = (
        tuple(str(path) for path in config_paths),
        str(yunet_model) if yunet_model else None,
        face_finder,
        str(calibration) if calibration else None,
    )
    suite = _suite_cache.get(key)
    if suite is not None:
        return suite
    with _suite_lock:
        suite = _suite_cache.get(key)
        if suite is None:
            suite = _build(config_paths, yunet_model, face_finder, calibration)
            _suite_cache.clear()  # one suite per process: settings changed, drop the old one
            _suite_cache[key] = suite
    return suite


def reset_detection_suite() -> None:
    """Forget the built suite (tests; a worker picks up a new checkpoint on its next build)."""
    with _suite_lock:
        _suite_cache.clear()


def _not_applicable(reason: str) -> DetectionOutcome:
    return DetectionOutcome(
        applicable=False,
        reason=reason,
        detection={"manipulation_probability": None, "detectors": [], "faces": []},
        forensic_map=None,
        reasons=[reason],
    )


def image_detection(*, image: np.ndarray) -> DetectionOutcome:
    """Detectors, fusion and faces on one decoded RGB uint8 HxWx3 image (EXIF-oriented).

    Images that cannot be judged (too small, blank, unconvertible pixels) come back with
    applicable=False and the reason; DetectionUnavailable is raised when the detector files
    themselves are broken (an operator problem, not the image's).
    """
    suite = detection_suite()
    try:
        found = analyze_image(image, suite)
    except UnsupportedImageError as error:
        return _not_applicable(f"image cannot be analysed: {error}")
    if not found["applicable"]:
        outcome = _not_applicable(found["reasons"][0])
        outcome.timings_ms = found["timings_ms"]
        return outcome
    detection = found["detection"]
    return DetectionOutcome(
        applicable=True,
        reason=None,
        detection=detection,
        forensic_map=found["forensic_map"],
        faces=detection["faces"],
        reasons=found["reasons"],
        models=found["models"],
        model_details=found["model_details"],
        timings_ms=found["timings_ms"],
    )


def media_metadata(*, content: bytes, image_format: str, width: int, height: int) -> dict:
    """The report's `metadata` section: {"width", "height", "format", "exif", "c2pa",
    "trailing_bytes"}.

    Never raises for malformed metadata: EXIF problems read as {"error": ...}, C2PA problems
    as {"state": "error", ...} and an unreadable container as trailing_bytes None, so a broken
    manifest cannot stop an analysis. `trailing_bytes` counts what follows the image's end
    marker (cameras append second images, maker data and videos to JPEGs); only the image
    before it is analysed.
    """
    try:
        c2pa = c2pa_summary(content)
    except Exception as error:  # the C2PA SDK is native code with its own exception types
        c2pa = {"state": "error", "error": f"{error.__class__.__name__}: {error}"[:MAX_TEXT_LENGTH]}
    try:
        trailer: int | None = trailing_bytes(content, image_format)
    except (KeyError, IndexError, ValueError, struct.error):  # not a container we walk
        trailer = None
    return {
        "width": int(width),
        "height": int(height),
        "format": image_format,
        "exif": exif_summary(content),
        "c2pa": c2pa,
        "trailing_bytes": trailer,
    }


def sensitive_regions(*, image: np.ndarray) -> list[dict[str, Any]]:
    """The report's `sensitive_regions`: explicit-content boxes (detection.core.explicit),
    `{"bbox": [x, y, w, h], "label": "...", "score": 0.0}`, highest score first."""
    return [region.to_dict() for region in explicit_regions(image)]


# The report's `models` entry of the text reader.
TEXT_IN_IMAGE_MODEL = {"text_in_image": f"{TEXT_MODEL_NAME}/{TEXT_MODEL_VERSION}"}


def text_in_image(*, image: np.ndarray) -> dict[str, Any]:
    """The report's `text_in_image`: `{"text": "...", "lines": [{"text", "bbox": [x, y, w, h],
    "confidence"}]}`, the lines top to bottom (detection.core.text_in_image: RapidOCR, built
    once per process on first use; low-confidence lines dropped, bounded in lines and
    characters)."""
    return read_text(image).to_dict()
