"""Calibration on a labelled folder (forensic signals only, so it runs in seconds): the split, the
method choice by held-out log-loss, and the suite applying what was fitted exactly as fitted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from detection.core.calibration import IsotonicCalibrator, PlattCalibrator, SuiteCalibration
from detection.core.registry import (
    FORENSIC_CONFIGS,
    analyze_image,
    build_suite,
    fusion_row,
    suite_probability,
)
from detection.evaluation.folder_calibration import calibrate_outputs, split_indices
from detection.evaluation.folder_evaluation import evaluate_outputs
from detection.evaluation.labelled_folder import read_labelled_folder
from detection.evaluation.outputs import Outputs, collect_outputs
from tests.detection.evaluation.folder_factory import labelled_folder


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    folder = labelled_folder(tmp_path_factory.mktemp("set"), count=40)
    suite = build_suite(list(FORENSIC_CONFIGS), faces=False)
    return collect_outputs(read_labelled_folder(folder), suite.detectors)


def test_split_is_stratified_disjoint_and_seeded() -> None:
    labels = np.array([0] * 20 + [1] * 10)
    fit, held = split_indices(labels, 0.3, seed=1)
    assert set(fit).isdisjoint(held) and len(fit) + len(held) == 30
    assert labels[held].sum() == 3 and len(held) == 9
    assert np.array_equal(split_indices(labels, 0.3, seed=1)[1], held)
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_indices(labels, 1.0, seed=1)
    with pytest.raises(ValueError, match="cannot hold out"):
        split_indices(np.array([0, 0, 0, 1]), 0.3, seed=1)


def test_calibration_reports_held_out_figures_and_its_choice(outputs: Outputs) -> None:
    calibration = calibrate_outputs(outputs, holdout=0.3, seed=3)
    fitted, metrics = calibration.report["fitted_on"], calibration.report["metrics"]
    assert fitted["held_out_images"] + fitted["fit_images"] == len(outputs.items)
    fused = metrics["fused"]
    losses = fused["held_out_log_loss"]
    # The kept method is the one with the lower held-out log-loss.
    assert set(losses) == {"none", "platt", "isotonic"}
    assert fused["method"] == min(losses, key=losses.__getitem__)
    assert fused["images"] == fitted["held_out_images"]
    assert 0.0 <= fused["ece"] <= 1.0 and fused["ece_sampling_floor"] > 0.0
    assert sum(b["count"] for b in fused["reliability"]) == fused["images"]
    assert set(metrics["detectors"]) == {"ela", "noise", "jpeg_ghost"}
    segmentation = metrics["segmentation"]
    assert segmentation["masked_images"] > 0 and 0.0 <= segmentation["pixel_f1"] <= 1.0
    assert calibration.thresholds["map"] == segmentation["map_threshold"]


def test_calibration_is_reproducible_for_a_seed(outputs: Outputs) -> None:
    first = calibrate_outputs(outputs, seed=5).to_dict()
    assert calibrate_outputs(outputs, seed=5).to_dict() == first


def test_suite_applies_the_stored_calibration_as_fitted(outputs: Outputs, tmp_path: Path) -> None:
    """Round trip through JSON, then the evaluation of the built suite on the same outputs gives
    the fused probabilities the fit would give (isotonic step included)."""
    calibration = calibrate_outputs(outputs, seed=3)
    calibration.fusion_calibration = IsotonicCalibrator([0.0, 0.4, 0.6, 1.0], [0.1, 0.2, 0.7, 0.9])
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(calibration.to_dict()))
    suite = build_suite(
        list(FORENSIC_CONFIGS), faces=False, calibration=SuiteCalibration.from_json(path)
    )
    assert isinstance(suite.fusion_calibration, IsotonicCalibrator)
    item = outputs.items[0]
    expected = calibration.fusion_calibration(calibration.fusion.predict(fusion_row(item.results)))
    report = evaluate_outputs(outputs, suite)
    assert report["calibrated"] and report["calibration_source"] == str(path)
    assert suite_probability(item.results, suite) == pytest.approx(float(expected))


def test_evaluation_marks_shadow_detectors_and_keeps_them_out_of_the_fusion(
    outputs: Outputs,
) -> None:
    live = build_suite([c for c in FORENSIC_CONFIGS if c.name != "noise"], faces=False)
    without = evaluate_outputs(outputs, live)
    with_shadow = evaluate_outputs(outputs, live, {"noise": PlattCalibrator(2.0, 0.0)})
    assert with_shadow["fused"] == without["fused"]
    assert with_shadow["detectors"]["noise"]["shadow"] is True
    assert with_shadow["detectors"]["noise"]["calibrated"] is True
    assert "noise" not in without["detectors"]


def test_analyze_image_reports_each_calibrated_detector_probability(outputs: Outputs) -> None:
    calibration = calibrate_outputs(outputs, seed=3)
    suite = build_suite(list(FORENSIC_CONFIGS), faces=False, calibration=calibration)
    found = analyze_image(data.astronaut(), suite)
    for entry in found["detection"]["detectors"]:
        step = calibration.score_calibrations[entry["name"]]
        assert entry["probability"] == pytest.approx(float(step(entry["score"])), abs=1e-3)
