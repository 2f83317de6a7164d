from pathlib import Path

import numpy as np
import pytest
import torch

from detection.core.inference import MultiTaskDetector
from detection.core.network import (
    CheckpointError,
    MultiTaskNet,
    NetworkConfig,
    load_checkpoint,
    save_checkpoint,
)


@pytest.mark.parametrize("residual", [True, False])
def test_forward_shapes(residual: bool) -> None:
    torch.manual_seed(0)
    model = MultiTaskNet(NetworkConfig(residual_channels=residual)).eval()
    with torch.no_grad():
        image_logit, map_logits = model(torch.rand(2, 3, 64, 96))
    assert image_logit.shape == (2,)
    assert map_logits.shape == (2, 1, 64, 96)


def test_model_is_small() -> None:
    parameters = sum(p.numel() for p in MultiTaskNet().parameters())
    assert parameters * 4 < 4 * 1024 * 1024  # "a few MB" of float32 weights at most


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = MultiTaskNet().eval()
    path = tmp_path / "model.pt"
    save_checkpoint(model, path)
    restored = load_checkpoint(path)
    batch = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(batch)[1], restored(batch)[1])


def test_corrupt_checkpoint_error_names_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt-weights.pt"
    corrupt.write_bytes(b"\x80\x02 definitely not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match=r"corrupt-weights\.pt"):
        load_checkpoint(corrupt)
    with pytest.raises(CheckpointError, match=r"missing-weights\.pt"):
        load_checkpoint(tmp_path / "missing-weights.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign\.pt"):
        load_checkpoint(foreign)


def test_dense_pass_matches_forward_on_a_single_window() -> None:
    torch.manual_seed(0)
    model = MultiTaskNet().eval()
    batch = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        image_logit, map_logits = model(batch)
        window_logits, dense_map = model.dense(batch, 128)
    assert window_logits.shape == (1, 1, 1)
    assert torch.allclose(window_logits.ravel(), image_logit, atol=1e-5)
    assert torch.allclose(dense_map, map_logits, atol=1e-5)
    with torch.no_grad():
        windows, _ = model.dense(torch.rand(1, 3, 256, 384), 128)
    assert windows.shape == (1, 3, 5)  # 8-cell windows, stride 4 cells, over 16 x 24 cells


def test_detector_returns_map_on_the_original_grid() -> None:
    torch.manual_seed(0)
    detector = MultiTaskDetector.from_model(MultiTaskNet(), max_side=256)
    image = np.random.default_rng(0).integers(0, 256, (300, 700, 3), dtype=np.uint8)
    result = detector.analyze(image)
    assert result.map is not None and result.map.shape == (300, 700)
    assert 0.0 <= result.score <= 1.0
    assert set(result.features) == {"max_logit", "mean_logit", "map_peak", "map_area"}
    assert 0.0 <= detector.score_crop(image[:50, :40]) <= 1.0


def test_map_score_dense_pass_matches_forward_on_a_single_window() -> None:
    torch.manual_seed(0)
    model = MultiTaskNet(NetworkConfig(map_score=True)).eval()
    with torch.no_grad():
        model.map_gain.fill_(0.7)
        batch = torch.rand(1, 3, 256, 256)
        image_logit, map_logits = model(batch)
        window_logits, _ = model.dense(batch, 256)
        plain = MultiTaskNet(NetworkConfig())
        plain.load_state_dict(model.state_dict(), strict=False)
        plain_logit, _ = plain.eval()(batch)
    assert torch.allclose(window_logits.ravel(), image_logit, atol=1e-5)
    pooled = torch.nn.functional.avg_pool2d(map_logits, 16).max()
    assert torch.allclose(image_logit, plain_logit + 0.7 * pooled, atol=1e-5)


def test_checkpoints_without_map_score_load_as_before(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    save_checkpoint(MultiTaskNet(), path)
    payload = torch.load(path, weights_only=True)
    del payload["config"]["map_score"]  # as written before the option existed (v1, v2)
    torch.save(payload, path)
    assert load_checkpoint(path).config.map_score is False
    scored = tmp_path / "scored.pt"
    save_checkpoint(MultiTaskNet(NetworkConfig(map_score=True)), scored)
    assert load_checkpoint(scored).config.map_score is True
