"""Model files and detector configs made for tests: the shipped network exported to ONNX or
TorchScript, and tiny hand-made models whose answers are known in advance."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from detection.core.registry import DEFAULT_NETWORK_CONFIG
from detection.training.export import export_detector

EXTENSIONS = {"onnx": ".onnx", "torchscript": ".pt"}


def export_shipped(folder: Path, fmt: str) -> Path:
    """The shipped default network exported to `fmt` in `folder`; returns its config path."""
    return export_detector(
        DEFAULT_NETWORK_CONFIG, fmt=fmt, output=folder / f"multitask{EXTENSIONS[fmt]}"
    )


class ConstantScore(nn.Module):
    """Always the same image logit, and a map of zeros logits (0.5) on the input grid."""

    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = logit

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = image.shape[0]
        return torch.full((batch, 1), self.logit), image[:, :1] * 0.0


class FirstChannelMean(nn.Module):
    """NHWC input: image probability = mean of channel 0; map = channel 0 (N x H x W)."""

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first = image[..., 0].clamp(0.0, 1.0)
        return first.mean(dim=(1, 2)), first


def save_model(module: nn.Module, path: Path, fmt: str, example: torch.Tensor) -> Path:
    module = module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "onnx":
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=False,
                input_names=["pixels"],
                output_names=["score", "map"],
                dynamic_axes={"pixels": {0: "batch"}},
                opset_version=17,
            )
        else:
            torch.jit.trace(module, example).save(str(path))
    return path


def tiny_config(
    folder: Path,
    name: str,
    module: nn.Module,
    *,
    fmt: str = "onnx",
    layout: str = "NCHW",
    side: int = 32,
    extra: dict[str, Any] | None = None,
    input_fields: dict[str, Any] | None = None,
    score_kind: str = "logit",
    map_kind: str = "logit",
) -> Path:
    """A detector config for `module` at a fixed `side` x `side` input; returns its path."""
    shape = (1, 3, side, side) if layout == "NCHW" else (1, side, side, 3)
    weights = save_model(module, folder / f"{name}{EXTENSIONS[fmt]}", fmt, torch.rand(*shape))
    data: dict[str, Any] = {
        "schema": "detector-config/1",
        "name": name,
        "version": "0.1",
        "runtime": fmt,
        "weights": weights.name,
        "licence": "CC-BY-NC-4.0",
        "source": "tests/detection/model_files.py",
        "input": {
            "name": "pixels",
            "layout": layout,
            "size": {"policy": "fixed", "width": side, "height": side},
            **(input_fields or {}),
        },
        "outputs": {
            "names": ["score", "map"],
            "image_score": {"name": "score", "kind": score_kind},
            "map": {"name": "map", "kind": map_kind},
        },
        **(extra or {}),
    }
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path
