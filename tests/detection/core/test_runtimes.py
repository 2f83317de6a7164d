"""Detectors run from model files (ONNX, TorchScript) through the same registry/suite path as the
built-in network: the exported shipped network gives its scores and map, configs are checked
against the file on load, and shadow detectors never move the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from detection.core.interface import DetectorConfig, DetectorResult
from detection.core.registry import (
    DEFAULT_NETWORK_CONFIG,
    FORENSIC_CONFIGS,
    analyze_image,
    build_suite,
)
from detection.core.runtimes import FaceCropModelDetector, ModelDetector
from tests.detection.model_files import (
    ConstantScore,
    FirstChannelMean,
    export_shipped,
    tiny_config,
)

# The exported graph is the same arithmetic in another engine: float32 rounding differences only.
RUNTIME_TOLERANCE = 1e-4
MATE = Path("/usr/share/backgrounds/mate/nature")


def real_images() -> list[np.ndarray]:
    images = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    photo = MATE / "LadyBird.jpg"
    if photo.is_file():  # a large photo: downscaled by the tile policy
        images.append(np.asarray(Image.open(photo).convert("RGB")))
    return images


@pytest.fixture(scope="module")
def torch_suite():
    return build_suite([DetectorConfig.from_json(DEFAULT_NETWORK_CONFIG), *FORENSIC_CONFIGS])


@pytest.fixture(scope="module", params=["onnx", "torchscript"])
def exported(request, tmp_path_factory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp(request.param)
    return request.param, export_shipped(folder, request.param)


def test_exported_network_equals_the_torch_path_on_real_images(torch_suite, exported) -> None:
    fmt, config_path = exported
    suite = build_suite([DetectorConfig.from_json(config_path), *FORENSIC_CONFIGS])
    assert isinstance(suite.detectors[0], FaceCropModelDetector)
    assert suite.face_scorer is suite.detectors[0] and suite.fusion is not None
    for image in real_images():
        original, exported_result = (s.detectors[0].analyze(image) for s in (torch_suite, suite))
        assert original.map is not None and exported_result.map is not None
        assert exported_result.score == pytest.approx(original.score, abs=RUNTIME_TOLERANCE)
        assert np.abs(exported_result.map - original.map).max() <= RUNTIME_TOLERANCE
        for key, value in original.features.items():
            assert exported_result.features[key] == pytest.approx(value, abs=RUNTIME_TOLERANCE)
        by_torch, by_file = analyze_image(image, torch_suite), analyze_image(image, suite)
        assert by_file["detection"]["manipulation_probability"] == pytest.approx(
            by_torch["detection"]["manipulation_probability"], abs=RUNTIME_TOLERANCE
        )
        assert [f["bbox"] for f in by_file["detection"]["faces"]] == [
            f["bbox"] for f in by_torch["detection"]["faces"]
        ]
        for mine, theirs in zip(
            by_file["detection"]["faces"], by_torch["detection"]["faces"], strict=True
        ):
            assert mine["manipulation_probability"] == pytest.approx(
                theirs["manipulation_probability"], abs=RUNTIME_TOLERANCE
            )
        # uint8 maps: one step of rounding at most.
        difference = by_file["forensic_map"].astype(int) - by_torch["forensic_map"]
        assert np.abs(difference).max() <= 1
        stamp = by_file["model_details"][0]
        assert stamp["runtime"] == fmt and stamp["name"] == "multitask"
    assert "source" in stamp and "multitask-v3.json" in stamp["source"]


def test_exported_config_keeps_name_version_licence_and_fusion(exported) -> None:
    _, config_path = exported
    original = DetectorConfig.from_json(DEFAULT_NETWORK_CONFIG)
    config = DetectorConfig.from_json(config_path)
    assert (config.name, config.version) == (original.name, original.version)
    assert config.licence == original.licence and config.licence.commercial_use is True
    assert config.params["fusion"] == original.params["fusion"]
    assert config.input is not None and config.input.tile == original.params["tile"]
    assert config.config_sha256 != original.config_sha256


def _edited(path: Path, change) -> Path:
    data_ = json.loads(path.read_text())
    change(data_)
    edited = path.with_name(f"edited-{path.name}")
    edited.write_text(json.dumps(data_))
    return edited


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["input"].update(name="rgb"), "takes inputs"),
        (lambda d: d["outputs"].update(names=["a", "b"], image_score={"name": "a"}), "outputs"),
        (lambda d: d.update(weights="absent.onnx"), "absent.onnx"),
    ],
)
def test_onnx_model_that_does_not_match_its_config_is_refused(tmp_path, change, words) -> None:
    config_path = export_shipped(tmp_path, "onnx")
    edited = _edited(config_path, change)
    with pytest.raises(ValueError, match=words):
        build_suite([DetectorConfig.from_json(edited)], faces=False)


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"\x08\x01\x12" * 50])
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_corrupt_model_file_is_refused_naming_it(tmp_path, fmt, content) -> None:
    config_path = tiny_config(tmp_path, "tiny", ConstantScore(0.0), fmt=fmt)
    weights = DetectorConfig.from_json(config_path).weights_path()
    assert weights is not None
    weights.write_bytes(content)
    with pytest.raises(ValueError, match=weights.name):
        build_suite([DetectorConfig.from_json(config_path)], faces=False)


def test_truncated_onnx_file_is_refused(tmp_path) -> None:
    config_path = export_shipped(tmp_path, "onnx")
    weights = tmp_path / "multitask.onnx"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"multitask\.onnx"):
        build_suite([DetectorConfig.from_json(config_path)], faces=False)


def test_torchscript_output_count_must_match_the_config(tmp_path) -> None:
    config_path = tiny_config(tmp_path, "tiny", ConstantScore(0.0), fmt="torchscript")
    edited = _edited(config_path, lambda d: d["outputs"].update(names=["score", "map", "extra"]))
    with pytest.raises(ValueError, match="returns 2 outputs"):
        build_suite([DetectorConfig.from_json(edited)], faces=False)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_normalisation_colour_order_and_layout_follow_the_config(tmp_path, fmt) -> None:
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255
    found = {}
    for order in ("RGB", "BGR"):
        path = tiny_config(
            tmp_path,
            f"first-{order}",
            FirstChannelMean(),
            fmt=fmt,
            layout="NHWC",
            score_kind="probability",
            map_kind="probability",
            input_fields={"colour_order": order, "scale": 255.0, "mean": 0.0, "std": 1.0},
        )
        detector = build_suite([DetectorConfig.from_json(path)], faces=False).detectors[0]
        assert isinstance(detector, ModelDetector)
        found[order] = detector.analyze(red)
    assert found["RGB"].score > 0.99 and found["BGR"].score < 0.01
    rgb_map = found["RGB"].map
    assert rgb_map is not None and rgb_map.shape == (64, 64) and rgb_map.min() > 0.99


def test_shadow_detector_saying_one_changes_nothing_of_the_verdict(tmp_path) -> None:
    shadow_path = tiny_config(tmp_path, "always-one", ConstantScore(30.0), extra={"shadow": True})
    image = data.coffee()
    without = analyze_image(image, build_suite(list(FORENSIC_CONFIGS), faces=False))
    suite = build_suite([*FORENSIC_CONFIGS, DetectorConfig.from_json(shadow_path)], faces=False)
    with_shadow = analyze_image(image, suite)
    assert with_shadow["detection"]["shadow"] == [
        {"name": "always-one", "version": "0.1", "score": 1.0, "map_area": 0.0}
    ]
    for key in ("manipulation_probability", "detectors", "faces"):
        assert with_shadow["detection"][key] == without["detection"][key]
    assert np.array_equal(with_shadow["forensic_map"], without["forensic_map"])
    assert with_shadow["reasons"] == without["reasons"]
    assert with_shadow["models"] == without["models"]
    assert with_shadow["model_details"][-1]["shadow"] is True
    assert with_shadow["model_details"][-1]["commercial_use"] is False
    assert "shadow.always-one" in with_shadow["timings_ms"]


class Broken:
    name, version = "broken", "0"

    def analyze(self, image: np.ndarray) -> DetectorResult:
        raise RuntimeError("model exploded")


def test_a_failing_shadow_detector_is_reported_and_the_analysis_goes_on() -> None:
    suite = build_suite(list(FORENSIC_CONFIGS), faces=False)
    suite.shadow = [Broken()]
    found = analyze_image(data.coffee(), suite)
    assert found["applicable"] is True
    assert found["detection"]["shadow"] == [
        {"name": "broken", "version": "0", "score": None, "error": "RuntimeError: model exploded"}
    ]


def test_detector_names_must_be_unique(tmp_path) -> None:
    path = tiny_config(tmp_path, "ela", ConstantScore(0.0), extra={"shadow": True})
    with pytest.raises(ValueError, match="unique"):
        build_suite([*FORENSIC_CONFIGS, DetectorConfig.from_json(path)], faces=False)


def test_a_suite_of_shadow_detectors_only_is_refused(tmp_path) -> None:
    path = tiny_config(tmp_path, "lonely", ConstantScore(0.0), extra={"shadow": True})
    with pytest.raises(ValueError, match=r"no enabled detector outside shadow mode.*lonely\.json"):
        build_suite([DetectorConfig.from_json(path)], faces=False)


def test_face_policy_none_leaves_faces_unscored(tmp_path) -> None:
    network = json.loads(DEFAULT_NETWORK_CONFIG.read_text())
    network.update(weights=str(DEFAULT_NETWORK_CONFIG.with_suffix(".pt")), faces={"policy": "none"})
    path = tmp_path / "no-faces.json"
    path.write_text(json.dumps(network))
    suite = build_suite([DetectorConfig.from_json(path), *FORENSIC_CONFIGS])
    faces = analyze_image(data.astronaut(), suite)["detection"]["faces"]
    assert faces and all(face["manipulation_probability"] is None for face in faces)
