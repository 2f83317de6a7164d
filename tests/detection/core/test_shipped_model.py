"""Golden-output tests of the shipped checkpoints: any change to weights, architecture or
inference code that moves these numbers must be deliberate (update them with the model)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from detection.core.inference import MultiTaskDetector
from detection.core.interface import DetectorConfig
from detection.core.registry import (
    DEFAULT_NETWORK_CONFIG,
    analyze_image,
    build_suite,
    default_configs,
)

MODELS = Path(__file__).resolve().parents[3] / "detection" / "models"
GOLDEN_TOLERANCE = 1e-3
# Produced by each shipped checkpoint on golden_input() (see the module docstring).
EXPECTED = {
    "multitask-v1": {
        "score": 0.941362,
        "map_mean": 0.111503,
        "map_at_100_150": 0.726357,
        "max_logit": 2.775952,
    },
    "multitask-v2": {
        "score": 0.857568,
        "map_mean": 0.098588,
        "map_at_100_150": 0.80484,
        "max_logit": 1.795234,
    },
    "multitask-v3": {
        "score": 0.987892,
        "map_mean": 0.194214,
        "map_at_100_150": 0.74005,
        "max_logit": 4.401701,
    },
}


def golden_input() -> np.ndarray:
    """Fixed, generated 240x320 image: smooth gradient + seeded noise + a pasted flat patch."""
    rng = np.random.default_rng(20261123)
    y, x = np.mgrid[0:240, 0:320]
    base = np.stack([x * 0.6, y * 0.8, (x + y) * 0.3], axis=2) + rng.normal(0, 8, (240, 320, 3))
    base[80:160, 120:220] = [200.0, 60.0, 40.0]
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def shipped(request) -> tuple[str, DetectorConfig]:
    return request.param, DetectorConfig.from_json(MODELS / f"{request.param}.json")


def test_shipped_configs_are_complete(shipped) -> None:
    _, config = shipped
    assert config.kind == "multitask" and config.weights_path().is_file()
    assert config.weights_licence.startswith("Apache-2.0")
    assert config.weights_path().stat().st_size < 8 * 1024 * 1024
    for key in ("fusion", "network_calibration", "training", "metrics"):
        assert key in config.params, key
    assert {"likely_manipulated", "map"} <= set(config.thresholds)


def test_golden_output_of_the_shipped_checkpoints(shipped) -> None:
    name, config = shipped
    torch.manual_seed(0)
    detector = MultiTaskDetector(
        config.name,
        config.version,
        config.weights_path(),
        max_side=config.params["max_side"],
        tile=config.params["tile"],
    )
    result = detector.analyze(golden_input())
    assert result.map is not None
    measured = {
        "score": result.score,
        "map_mean": float(result.map.mean()),
        "map_at_100_150": float(result.map[100, 150]),
        "max_logit": result.features["max_logit"],
    }
    for key, expected in EXPECTED[name].items():
        assert measured[key] == pytest.approx(expected, abs=GOLDEN_TOLERANCE), (name, key)


def test_the_default_is_a_shipped_checkpoint() -> None:
    assert DEFAULT_NETWORK_CONFIG.parent == MODELS and DEFAULT_NETWORK_CONFIG.stem in EXPECTED


def test_default_suite_analyzes_with_the_network_and_fusion() -> None:
    suite = build_suite(default_configs(DEFAULT_NETWORK_CONFIG))
    report = analyze_image(data.astronaut(), suite)
    assert report["models"]["multitask"] == DetectorConfig.from_json(DEFAULT_NETWORK_CONFIG).version
    assert 0.0 <= report["detection"]["manipulation_probability"] <= 1.0
    assert report["reasons"][0].split(":")[0] in (
        "likely manipulated",
        "no clear sign of manipulation",
    )
    assert "calibrated" in report["reasons"][0]
    face = report["detection"]["faces"][0]
    assert 0.0 <= face["manipulation_probability"] <= 1.0
