"""calibrate_detectors and evaluate_detector --data / --compare on a small generated folder: the
files they write, the suite loading the calibration (DETECTION_CALIBRATION), and one clear
error for each kind of bad input."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from skimage import data

from detection import selectors
from detection.core.calibration import SuiteCalibration
from detection.core.registry import DEFAULT_NETWORK_CONFIG
from tests.detection.evaluation.folder_factory import labelled_folder


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return labelled_folder(tmp_path_factory.mktemp("set"), count=24)


@pytest.fixture(scope="module")
def calibrated(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("calibrated")
    return out, _run("calibrate_detectors", str(folder), "--output-dir", str(out), "--seed", "2")


@pytest.fixture
def fresh_suite():
    selectors.reset_detection_suite()
    yield
    selectors.reset_detection_suite()


def test_calibrate_writes_calibration_diagram_and_card(calibrated: tuple[Path, str]) -> None:
    out, printed = calibrated
    assert "held-out part (" in printed and "ECE" in printed and "sampling floor" in printed
    assert "pixel F1 of the fused map" in printed
    assert f"DETECTION_CALIBRATION={out / 'detector-calibration.json'}" in printed
    document = json.loads((out / "detector-calibration.json").read_text())
    assert [d["name"] for d in document["detectors"]] == [
        "multitask",
        "ela",
        "noise",
        "jpeg_ghost",
    ]
    assert document["metrics"]["fused"]["method"] in ("none", "platt", "isotonic")
    png = cv2.imread(str(out / "reliability.png"))
    assert png is not None and png.shape == (480, 480, 3)
    card = (out / "model-card.md").read_text()
    assert "$" not in card.replace("$ ", "")  # every placeholder filled
    fused_auc = document["metrics"]["fused"]["auc"]
    assert f"| fused image AUC | {fused_auc:.3f} |" in card
    assert "| multitask | 3.0.0 |" in card


def test_the_worker_suite_applies_the_calibration(
    calibrated: tuple[Path, str], settings, fresh_suite
) -> None:
    out, _ = calibrated
    calibration = SuiteCalibration.from_json(out / "detector-calibration.json")
    settings.DETECTION_CALIBRATION = str(out / "detector-calibration.json")
    outcome = selectors.image_detection(image=data.astronaut())
    suite = selectors.detection_suite()
    assert suite.calibration_source == str(out / "detector-calibration.json")
    assert suite.fusion == calibration.fusion
    for entry in outcome.detection["detectors"]:
        step = calibration.score_calibrations[entry["name"]]
        assert entry["probability"] == pytest.approx(float(step(entry["score"])), abs=1e-3)


def test_a_calibration_for_other_detectors_stops_detection(
    folder: Path, tmp_path: Path, settings, fresh_suite
) -> None:
    _run("calibrate_detectors", str(folder), "--no-forensics", "--output-dir", str(tmp_path))
    settings.DETECTION_CALIBRATION = str(tmp_path / "detector-calibration.json")
    with pytest.raises(selectors.DetectionUnavailable, match=r"was fitted for multitask 3\.0\.0"):
        selectors.image_detection(image=data.astronaut())


def test_calibrate_never_overwrites_without_force(calibrated: tuple[Path, str], folder) -> None:
    out, _ = calibrated
    before = (out / "detector-calibration.json").read_bytes()
    with pytest.raises(CommandError, match="exist; use --force"):
        _run("calibrate_detectors", str(folder), "--output-dir", str(out))
    assert (out / "detector-calibration.json").read_bytes() == before


def test_default_output_is_next_to_the_given_config(folder: Path, tmp_path: Path) -> None:
    config = json.loads(DEFAULT_NETWORK_CONFIG.read_text())
    config["weights"] = str(DEFAULT_NETWORK_CONFIG.with_name(config["weights"]))
    (tmp_path / "mine.json").write_text(json.dumps(config))
    _run("calibrate_detectors", str(folder), "--configs", str(tmp_path / "mine.json"))
    assert (tmp_path / "detector-calibration.json").is_file()
    assert json.loads((tmp_path / "mine.json").read_text()) == config  # the config is untouched


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "copy"))


def _break_mask(root: Path) -> None:
    cv2.imwrite(str(next((root / "masks").iterdir())), np.zeros((5, 5), np.uint8))


def _one_class(root: Path) -> None:
    shutil.rmtree(root / "fake")
    (root / "fake").mkdir()
    shutil.rmtree(root / "masks")


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda root: shutil.rmtree(root / "real"), r"lacks the folder\(s\) real/"),
        (_one_class, "has 0 images"),
        (
            lambda root: (root / "real" / "x.jpg").write_bytes(b"garbage"),
            r"cannot read image .*x\.jpg",
        ),
        (_break_mask, "is 5x5, its image is 96x96"),
    ],
)
def test_bad_folders_are_one_line_errors(folder: Path, tmp_path: Path, spoil, message) -> None:
    root = _copy(folder, tmp_path)
    spoil(root)
    with pytest.raises(CommandError, match=message):
        _run("calibrate_detectors", str(root), "--output-dir", str(tmp_path / "out"))
    assert not (tmp_path / "out" / "detector-calibration.json").exists()


def test_bad_options_are_one_line_errors(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--holdout must be between 0 and 1"):
        _run("calibrate_detectors", str(folder), "--holdout", "1.5", "--output-dir", str(tmp_path))
    with pytest.raises(CommandError, match="detector config not found"):
        _run("calibrate_detectors", str(folder), "--configs", str(tmp_path / "absent.json"))


def test_evaluate_on_a_folder_applies_a_stored_calibration(
    folder: Path, calibrated: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = calibrated
    printed = _run(
        "evaluate_detector",
        "--data",
        str(folder),
        "--calibration",
        str(out / "detector-calibration.json"),
        "--output-dir",
        str(tmp_path),
    )
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["calibrated"] and report["fused"]["images"] == report["images"]
    assert "sampling floor" in printed and "pixel F1" in printed
    assert (tmp_path / "reliability.png").is_file() and (tmp_path / "model-card.md").is_file()


def test_compare_puts_shadow_configs_beside_the_live_set(folder: Path, tmp_path: Path) -> None:
    config = json.loads(DEFAULT_NETWORK_CONFIG.read_text())
    config |= {
        "name": "candidate",
        "shadow": True,
        "weights": str(DEFAULT_NETWORK_CONFIG.with_name(config["weights"])),
    }
    (tmp_path / "candidate.json").write_text(json.dumps(config))
    args = ["evaluate_detector", "--data", str(folder), "--output-dir", str(tmp_path / "out")]
    with pytest.raises(CommandError, match='--compare needs a config with "shadow": true'):
        _run(*args, "--compare")
    printed = _run(
        *args,
        "--compare",
        "--configs",
        str(DEFAULT_NETWORK_CONFIG),
        str(tmp_path / "candidate.json"),
    )
    rows = {line.split()[0]: line.split()[1] for line in printed.splitlines()[-7:-1]}
    assert rows["candidate"] == "shadow" and rows["multitask"] == "live"
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report["detectors"]["candidate"]["shadow"] is True
    # The same network as a shadow scores the items exactly as the live one.
    assert report["detectors"]["candidate"]["auc"] == report["detectors"]["multitask"]["auc"]
