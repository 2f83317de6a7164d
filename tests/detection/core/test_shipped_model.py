"""Golden-output tests of the shipped checkpoint: any change to weights, architecture or
inference code that moves these numbers must be deliberate (update them with the model)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from detection.core.inference import MultiTaskDetector
from detection.core.interface import DetectorConfig
from detection.core.registry import analyze_image, build_suite, default_configs

MODELS = Path(__file__).resolve().parents[3] / "detection" / "models"
CONFIG = MODELS / "multitask-v1.json"
GOLDEN_TOLERANCE = 1e-3
# Produced by the shipped checkpoint on golden_input() (see the module docstring).
EXPECTED = {
    "score": 0.941362,
    "map_mean": 0.111503,
    "map_at_100_150": 0.726357,
    "max_logit": 2.775952,
}


def golden_input() -> np.ndarray:
    """Fixed, generated 240x320 image: smooth gradient + seeded noise + a pasted flat patch."""
    rng = np.random.default_rng(20261123)
    y, x = np.mgrid[0:240, 0:320]
    base = np.stack([x * 0.6, y * 0.8, (x + y) * 0.3], axis=2) + rng.normal(0, 8, (240, 320, 3))
    base[80:160, 120:220] = [200.0, 60.0, 40.0]
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def config() -> DetectorConfig:
    return DetectorConfig.from_json(CONFIG)


def test_shipped_config_is_complete(config: DetectorConfig) -> None:
    assert config.kind == "multitask" and config.weights_path().is_file()
    assert config.weights_licence.startswith("Apache-2.0")
    assert config.weights_path().stat().st_size < 8 * 1024 * 1024
    for key in ("fusion", "network_calibration", "training", "metrics"):
        assert key in config.params, key
    assert {"likely_manipulated", "map"} <= set(config.thresholds)


def test_golden_output_of_the_shipped_checkpoint(config: DetectorConfig) -> None:
    torch.manual_seed(0)
    detector = MultiTaskDetector(
        config.name,
        config.version,
        config.weights_path(),
        max_side=config.params["max_side"],
        tile=config.params["tile"],
    )
    result = detector.analyze(golden_input())
    measured = {
        "score": result.score,
        "map_mean": float(result.map.mean()),
        "map_at_100_150": float(result.map[100, 150]),
        "max_logit": result.features["max_logit"],
    }
    for name, expected in EXPECTED.items():
        assert measured[name] == pytest.approx(expected, abs=GOLDEN_TOLERANCE), name


def test_default_suite_analyzes_with_the_network_and_fusion() -> None:
    suite = build_suite(default_configs(CONFIG))
    report = analyze_image(data.astronaut(), suite)
    assert report["models"]["multitask"] == DetectorConfig.from_json(CONFIG).version
    assert 0.0 <= report["detection"]["manipulation_probability"] <= 1.0
    assert report["reasons"][0].split(":")[0] in (
        "likely manipulated",
        "no clear sign of manipulation",
    )
    assert "calibrated" in report["reasons"][0]
    face = report["detection"]["faces"][0]
    assert 0.0 <= face["manipulation_probability"] <= 1.0
