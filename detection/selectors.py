"""Reads for the rest of the platform: detection on a decoded image, and the report's metadata.

The detection suite (network checkpoint, fusion, forensic signals, face finder) is built once per
process on first use and shared by every thread; it is rebuilt only when the settings that name
its files change (tests override them).
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from detection.core.explicit import explicit_regions
from detection.core.imaging import UnsupportedImageError
from detection.core.interface import DetectorConfig
from detection.core.metadata import MAX_TEXT_LENGTH, c2pa_summary, exif_summary
from detection.core.registry import (
    DEFAULT_NETWORK_CONFIG,
    FORENSIC_CONFIGS,
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
    timings_ms: dict[str, float] = field(default_factory=dict)


_suite_lock = threading.Lock()
_suite_cache: dict[tuple[str, str | None], DetectionSuite] = {}


def configured_network_config() -> Path:
    """The network's detector config JSON named by settings (or the shipped default)."""
    configured = getattr(settings, "DETECTION_NETWORK_CONFIG", None)
    return (Path(configured).expanduser() if configured else DEFAULT_NETWORK_CONFIG).resolve()


def _configured_paths() -> tuple[Path, Path | None]:
    yunet = getattr(settings, "YUNET_MODEL_FILE", None)
    return configured_network_config(), (Path(yunet).expanduser().resolve() if yunet else None)


def _build(network_config: Path, yunet_model: Path | None) -> DetectionSuite:
    from detection.core.network import CheckpointError  # torch only when a suite is built

    if not network_config.is_file():
        raise DetectionUnavailable(
            f"detector config not found: {network_config} (check DETECTION_NETWORK_CONFIG)"
        )
    try:
        network = DetectorConfig.from_json(network_config)
        return build_suite([network, *FORENSIC_CONFIGS], yunet_model=yunet_model)
    except (CheckpointError, ValueError, OSError) as error:
        # CheckpointError / ValueError / FileNotFoundError messages already name the file.
        raise DetectionUnavailable(f"cannot load the detectors: {error}") from error


def detection_suite() -> DetectionSuite:
    """The process-wide suite for the current settings (built on first call, thread-safe).

    Raises DetectionUnavailable naming the file when a configured file is missing or corrupt;
    a failed build is not cached, so fixing the file and retrying works without a restart.
    """
    network_config, yunet_model = _configured_paths()
    key = (str(network_config), str(yunet_model) if yunet_model else None)
    suite = _suite_cache.get(key)
    if suite is not None:
        return suite
    with _suite_lock:
        suite = _suite_cache.get(key)
        if suite is None:
            suite = _build(network_config, yunet_model)
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
