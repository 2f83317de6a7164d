"""manage.py export_detector: the shipped network as ONNX / TorchScript plus its config."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from detection.core.interface import DetectorConfig
from detection.core.registry import DEFAULT_NETWORK_CONFIG, FORENSIC_CONFIG_FILES


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("export_detector", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "name"), [("onnx", "net.onnx"), ("torchscript", "net.pt")])
def test_export_writes_the_model_and_a_config_that_loads(tmp_path: Path, fmt, name) -> None:
    output = tmp_path / "out" / name
    printed = _run("--format", fmt, "--output", str(output))
    config_path = output.with_suffix(".json")
    assert output.is_file() and str(config_path) in printed
    config = DetectorConfig.from_json(config_path)
    assert config.runtime == fmt and config.weights_path() == output
    assert json.loads(config_path.read_text())["outputs"]["names"] == [
        "window_logits",
        "map_logits",
    ]


def test_export_defaults_to_the_configured_network(settings, tmp_path: Path) -> None:
    settings.DETECTION_NETWORK_CONFIG = str(DEFAULT_NETWORK_CONFIG.with_name("multitask-v1.json"))
    _run("--format", "onnx", "--output", str(tmp_path / "v1.onnx"))
    assert DetectorConfig.from_json(tmp_path / "v1.json").version.startswith("1")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--config", "CONFIG_DIR/absent.json"], "absent.json"),
        (["--config", str(FORENSIC_CONFIG_FILES[0])], "not a built-in multi-task"),
        (["--config", "CONFIG_DIR/garbled.json"], "garbled.json"),
        (["--output", "OUT_DIR/net.json"], "overwritten"),
    ],
)
def test_bad_input_is_a_one_line_command_error(tmp_path: Path, args, words) -> None:
    (tmp_path / "garbled.json").write_text("{")
    args = [a.replace("CONFIG_DIR", str(tmp_path)).replace("OUT_DIR", str(tmp_path)) for a in args]
    if "--output" not in args:
        args += ["--output", str(tmp_path / "net.onnx")]
    with pytest.raises(CommandError, match=words) as caught:
        _run("--format", "onnx", *args)
    assert "\n" not in str(caught.value)
