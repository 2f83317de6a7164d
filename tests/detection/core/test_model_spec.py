"""detector-config/1's model fields: runtime, input, outputs, faces, licence, source, shadow and
the config hash; old configs keep loading, wrong ones stop with a message naming the file."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from detection.core.interface import DetectorConfig
from detection.core.model_spec import MAX_INPUT_SIDE, Licence
from detection.core.registry import FORENSIC_CONFIG_FILES, MODELS_DIR

ONNX_CONFIG: dict[str, Any] = {
    "name": "other",
    "version": "2",
    "runtime": "onnx",
    "weights": "other.onnx",
    "licence": "MIT",
    "source": "https://example.invalid/other",
    "input": {
        "name": "x",
        "layout": "NHWC",
        "colour_order": "BGR",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "scale": 255,
        "size": {"policy": "fixed", "width": 224, "height": 224},
    },
    "outputs": {
        "names": ["logits", "mask"],
        "image_score": {"name": "logits", "kind": "logit"},
        "map": {"name": "mask", "kind": "probability"},
    },
    "faces": {"policy": "crops", "margin": 0.3},
}


def _written(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "detector.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_config_loads_with_a_licence_and_a_hash(path: Path) -> None:
    config = DetectorConfig.from_json(path)
    assert config.licence.id == "Apache-2.0" and config.licence.commercial_use is True
    assert config.source and config.runtime is None
    assert config.config_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert config.stamp()["config_sha256"] == config.config_sha256


def test_forensic_signals_are_shipped_configs() -> None:
    assert [DetectorConfig.from_json(p).kind for p in FORENSIC_CONFIG_FILES] == [
        "ela",
        "noise",
        "jpeg_ghost",
    ]


def test_a_runtime_config_is_read_into_its_specs(tmp_path: Path) -> None:
    config = DetectorConfig.from_json(_written(tmp_path, ONNX_CONFIG))
    assert config.kind == "onnx" and config.weights_path() == tmp_path / "other.onnx"
    assert config.input is not None and config.outputs is not None and config.faces is not None
    assert (config.input.layout, config.input.colour_order) == ("NHWC", "BGR")
    assert (config.input.width, config.input.height, config.input.scale) == (224, 224, 255.0)
    assert config.outputs.map is not None and config.outputs.map.kind == "probability"
    assert config.faces.policy == "crops" and not config.shadow
    assert config.stamp() == {
        "name": "other",
        "version": "2",
        "runtime": "onnx",
        "licence": "MIT",
        "commercial_use": True,
        "source": "https://example.invalid/other",
        "config_sha256": config.config_sha256,
        "shadow": False,
    }
    assert "input" not in config.params and "licence" not in config.params


def test_a_config_given_as_data_is_hashed_canonically() -> None:
    shuffled = dict(reversed(list(ONNX_CONFIG.items())))
    first, second = DetectorConfig.from_dict(ONNX_CONFIG), DetectorConfig.from_dict(shuffled)
    assert first.config_sha256 == second.config_sha256
    assert (
        first.config_sha256
        != DetectorConfig.from_dict({**ONNX_CONFIG, "version": "3"}).config_sha256
    )


@pytest.mark.parametrize(
    ("licence", "flag", "commercial"),
    [
        ("CC-BY-NC-4.0", None, False),
        ("CC-BY-NC-SA-4.0", None, False),
        ("research-only", None, False),
        ("Non-Commercial Use Licence", None, False),
        ("Apache-2.0", None, True),
        ("MIT", False, False),  # the explicit flag wins
        ("CC-BY-NC-4.0", True, True),
        (None, None, None),  # nothing stated: unknown, not allowed
    ],
)
def test_commercial_use_is_read_or_inferred(licence, flag, commercial) -> None:
    data: dict[str, Any] = {} if licence is None else {"licence": licence}
    if flag is not None:
        data["commercial_use"] = flag
    assert Licence.from_config(data).commercial_use is commercial


def test_the_old_weights_licence_field_still_counts() -> None:
    assert Licence.from_config({"weights_licence": "CC-BY-NC-4.0"}).commercial_use is False


def _broken(change) -> dict[str, Any]:
    data = copy.deepcopy(ONNX_CONFIG)
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_broken(lambda d: d.update(runtime="tensorflow")), "runtime must be one of"),
        (_broken(lambda d: d.pop("outputs")), "needs outputs"),
        (_broken(lambda d: d.pop("weights")), "needs weights"),
        (_broken(lambda d: d["input"].update(layout="CHW")), "layout"),
        (_broken(lambda d: d["input"].update(colour_order="YUV")), "colour_order"),
        (_broken(lambda d: d["input"].update(std=[1, 0, 1])), "std"),
        (_broken(lambda d: d["input"].update(mean=[1, 2])), "mean"),
        (_broken(lambda d: d["input"].update(scale=0)), "scale"),
        (_broken(lambda d: d["input"]["size"].update(width=MAX_INPUT_SIDE + 1)), "width"),
        (_broken(lambda d: d["input"]["size"].update(policy="stretch")), "policy"),
        (_broken(lambda d: d["input"]["size"].update(height="224")), "height"),
        (_broken(lambda d: d["outputs"].update(names=[])), "names"),
        (_broken(lambda d: d["outputs"].update(names=["a", "a"])), "repeats"),
        (_broken(lambda d: d["outputs"]["map"].update(name="elsewhere")), "not in outputs"),
        (_broken(lambda d: d["outputs"]["image_score"].update(kind="odds")), "kind"),
        (_broken(lambda d: d["outputs"].pop("image_score")), "image_score"),
        (_broken(lambda d: d["faces"].update(margin=0.5)), "margin"),
        (_broken(lambda d: d["faces"].update(policy="all")), "policy"),
        (_broken(lambda d: d.update(commercial_use="no")), "commercial_use"),
        (_broken(lambda d: d.update(input=[1, 2])), "input must be an object"),
        (_broken(lambda d: d.pop("runtime")), "lacks kind"),
    ],
)
def test_wrong_model_fields_stop_with_the_file_named(tmp_path: Path, data, words) -> None:
    path = _written(tmp_path, data)
    with pytest.raises(ValueError, match=words) as caught:
        DetectorConfig.from_json(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"{", b"[1, 2]", b"\xff\xfe", b'"just a string"'])
def test_corrupt_config_files_are_refused_naming_them(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbled.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"garbled\.json"):
        DetectorConfig.from_json(path)
