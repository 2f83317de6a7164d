"""train_detector / evaluate_detector on tiny settings: a few steps on a few generated images."""

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command
from skimage import data

from detection.core.network import MultiTaskNet, NetworkConfig, load_checkpoint, save_checkpoint
from detection.evaluation import evaluate
from detection.training import train
from detection.training.datasets import encode_rle

TINY = ["--steps", "2", "--input-size", "32", "--batch-size", "2", "--threads", "1"]


def _sources(split: str, seed: int) -> list[tuple[str, np.ndarray]]:
    """Three small photos instead of the real split (loading ~100 files takes seconds)."""
    photos = [data.astronaut(), data.coffee(), data.chelsea()]
    return [(f"test:{split}{i}", cv2.resize(p, (160, 128))) for i, p in enumerate(photos)]


@pytest.fixture(autouse=True)
def small_splits(monkeypatch) -> None:
    monkeypatch.setattr(train, "load_split", _sources)
    monkeypatch.setattr(evaluate, "load_split", _sources)
    monkeypatch.setattr(evaluate, "EVAL_MIN_SIDE", 96)
    monkeypatch.setattr(evaluate, "EVAL_MAX_SIDE", 128)


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_train_detector_writes_a_loadable_checkpoint_and_config(tmp_path: Path) -> None:
    output = tmp_path / "tiny.pt"
    printed = _run("train_detector", "--output", str(output), *TINY, "--calibration-count", "0")
    assert "trained 2 steps" in printed and f"DETECTION_NETWORK_CONFIG={tmp_path}" in printed
    model = load_checkpoint(output)
    assert isinstance(model, MultiTaskNet)
    config = json.loads(output.with_suffix(".json").read_text())
    assert config["weights"] == "tiny.pt" and config["tile"] == 32
    assert config["training"]["steps_done"] == 2 and config["training"]["seed"] == 1234
    assert config["training"]["command"].startswith("python manage.py train_detector --output")
    assert "--input-size 32" in config["training"]["command"]
    assert "fusion" not in config  # calibration was skipped


def test_train_detector_calibrates_by_default(tmp_path: Path) -> None:
    output = tmp_path / "tiny.pt"
    printed = _run("train_detector", "--output", str(output), *TINY, "--calibration-count", "4")
    assert "calibrated on 4 calibration-split images" in printed
    config = json.loads(output.with_suffix(".json").read_text())
    assert {"fusion", "network_calibration", "calibration"} <= set(config)


def _faceforensics(root: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    mask = np.zeros((48, 64), np.uint8)
    mask[10:40, 20:50] = 255
    for folder, image in (
        ("original_sequences/youtube/c23/frames/000", frame),
        ("manipulated_sequences/Deepfakes/c23/frames/000_003", frame),
        ("manipulated_sequences/Deepfakes/masks/frames/000_003", mask),
        ("manipulated_sequences/FaceSwap/c23/frames/001_004", frame),  # no mask
    ):
        (root / folder).mkdir(parents=True)
        cv2.imwrite(str(root / folder / "0000.png"), image)
    return root


def _openforensics(root: Path) -> tuple[Path, Path]:
    images = root / "Train"
    images.mkdir(parents=True)
    cv2.imwrite(str(images / "a.jpg"), cv2.resize(data.astronaut(), (80, 60)))
    face = np.zeros((60, 80), np.uint8)
    face[10:40, 20:50] = 1
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 60}],
        "categories": [{"id": 0, "name": "Real"}, {"id": 1, "name": "Fake"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [20, 10, 30, 30],
             "segmentation": encode_rle(face)},
        ],
    }  # fmt: skip
    annotations = root / "Train_poly.json"
    annotations.write_text(json.dumps(coco))
    return annotations, images


def test_train_detector_mixes_in_user_data_sets(tmp_path: Path) -> None:
    ff = _faceforensics(tmp_path / "ff")
    annotations, images = _openforensics(tmp_path / "of")
    output = tmp_path / "user.pt"
    _run(
        "train_detector", "--output", str(output), *TINY, "--calibration-count", "0",
        "--faceforensics", str(ff), "--openforensics", str(annotations), str(images),
        "--user-fraction", "1.0",
    )  # fmt: skip
    training = json.loads(output.with_suffix(".json").read_text())["training"]
    assert training["user_data_items"] == 4  # 3 FaceForensics++ frames + 1 OpenForensics image
    assert f"--faceforensics {ff}" in training["command"]


def test_train_detector_fine_tunes_an_existing_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    start = tmp_path / "start.pt"
    save_checkpoint(MultiTaskNet(NetworkConfig(widths=(8, 8, 16, 16))), start)
    output = tmp_path / "tuned.pt"
    _run("train_detector", "--output", str(output), *TINY, "--calibration-count", "0",
         "--init-from", str(start))  # fmt: skip
    assert load_checkpoint(output).config.widths == (8, 8, 16, 16)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--input-size", "40"], "multiple of 16"),
        (["--steps", "0"], "--steps: must be positive"),
        (["--steps", "many"], "--steps: must be a number"),
        (["--user-fraction", "2"], "between 0 and 1"),
        (["--batch-size", "1"], "at least 2"),
        (["--output", "model.onnx"], "must end in .pt"),
        (["--calibration-count", "2"], "--calibration-count"),
        (["--init-from", "absent.pt"], "checkpoint not found: absent.pt"),
        (["--faceforensics", "absent-dir"], "neither original_sequences"),
        (["--openforensics", "absent.json", "."], "absent.json"),
        (["--openforensics", "a.json", "absent-dir"], "image folder not found"),
    ],
)
def test_train_detector_refuses_bad_arguments(tmp_path: Path, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError, match=message):
        call_command("train_detector", "--output", str(tmp_path / "m.pt"), *arguments)
    assert not (tmp_path / "m.pt").exists()


def test_train_detector_refuses_data_sets_with_missing_images(tmp_path: Path) -> None:
    annotations, images = _openforensics(tmp_path)
    (images / "a.jpg").unlink()
    with pytest.raises(CommandError, match=r"missing, e\.g\. .*a\.jpg"):
        call_command("train_detector", "--output", str(tmp_path / "m.pt"),
                     "--openforensics", str(annotations), str(images))  # fmt: skip


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    weights = tmp_path / "tiny.pt"
    save_checkpoint(MultiTaskNet(NetworkConfig(widths=(8, 8, 16, 16))), weights)
    summary = {"config": {"input_size": 32, "seed": 1}, "steps_done": 0}
    return train.write_detector_config(weights, summary, "tiny", "0.0.1")


def test_evaluate_detector_prints_the_paper_metrics(tiny_config: Path) -> None:
    text = _run("evaluate_detector", "--config", str(tiny_config), "--count", "6", "--no-timing")
    for words in ("accuracy", "EER", "AUC", "ECE", "IoU", "F1", "fitted on 6 calibration"):
        assert words in text
    stored = json.loads(tiny_config.read_text())
    assert "metrics" not in stored and "fusion" not in stored  # nothing written without --write


def test_evaluate_detector_json_and_write(tiny_config: Path) -> None:
    printed = _run("evaluate_detector", "--config", str(tiny_config), "--count", "6",
                   "--no-timing", "--json", "--write")  # fmt: skip
    results = json.loads(printed)
    assert results["split"] == "test" and results["images"] == 6
    assert set(results["fused"]) == {"auc", "eer", "accuracy", "ece", "ece_sampling_floor"}
    assert {"f1_manipulated_images", "iou_manipulated_images"} <= set(results["segmentation"])
    assert "pixel_accuracy_manipulated_images" in results["segmentation"]
    stored = json.loads(tiny_config.read_text())
    assert stored["metrics"]["fused"] == results["fused"] and "fusion" in stored
    # The stored calibration now evaluates to the same figures without refitting.
    again = json.loads(_run("evaluate_detector", "--config", str(tiny_config), "--count", "6",
                            "--no-timing", "--json", "--stored-calibration"))  # fmt: skip
    assert again["fused"] == results["fused"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--config", "absent.json"], "detector config not found"),
        (["--count", "2"], "at least 4"),
        (["--stored-calibration"], "no calibration yet"),
    ],
)
def test_evaluate_detector_refuses_bad_arguments(tiny_config, arguments, message) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("evaluate_detector", "--config", str(tiny_config), *arguments)


def test_evaluate_detector_names_a_corrupt_checkpoint(tiny_config: Path) -> None:
    tiny_config.with_name("tiny.pt").write_bytes(b"garbage")
    with pytest.raises(CommandError, match=r"tiny\.pt"):
        call_command("evaluate_detector", "--config", str(tiny_config), "--count", "4")


def test_train_detector_shared_mode_adds_the_map_score_to_a_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    start = tmp_path / "start.pt"
    save_checkpoint(MultiTaskNet(NetworkConfig(widths=(8, 8, 16, 16))), start)
    output = tmp_path / "shared.pt"
    _run("train_detector", "--output", str(output), *TINY, "--calibration-count", "0",
         "--init-from", str(start), "--data-mode", "shared", "--map-score")  # fmt: skip
    model = load_checkpoint(output)
    assert model.config.widths == (8, 8, 16, 16) and model.config.map_score
    command = json.loads(output.with_suffix(".json").read_text())["training"]["command"]
    assert "--data-mode shared --map-score" in command


def test_shared_view_is_an_inference_sized_window_with_its_mask() -> None:
    photo, donor = data.astronaut(), data.coffee()
    views = [
        train.shared_view(photo, donor, np.random.default_rng(seed), 64, 128) for seed in range(8)
    ]
    for view in views:
        assert view.image.shape == (64, 64, 3) and view.mask.shape == (64, 64)
        assert set(np.unique(view.mask)) <= {0, 1}
        if view.kind == "real":
            assert not view.mask.any()
    assert any(view.mask.any() for view in views)
    again = train.shared_view(photo, donor, np.random.default_rng(3), 64, 128)
    assert np.array_equal(again.image, views[3].image) and again.kind == views[3].kind
