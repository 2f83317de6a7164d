"""Export of the built-in multi-task network to a model file (ONNX or TorchScript) plus the
detector config that runs it through detection.core.runtimes with the same scores and map.

The exported graph is the network's dense pass (`MultiTaskNet.dense`) at the config's tile: one
fully convolutional pass over an image of any size (both sides multiples of ENCODER_STRIDE, the
shorter at least one tile), returning per-window image logits and map logits on the input grid.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from detection.core.interface import DetectorConfig
from detection.core.network import ENCODER_STRIDE, INPUT_SIZE, MultiTaskNet, load_checkpoint

EXPORT_FORMATS = ("onnx", "torchscript")
# ONNX opset of the export: supported by the pinned onnxruntime and by the legacy exporter.
ONNX_OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAMES = ("window_logits", "map_logits")
# Keys of the built-in network's config that the exported config states in `input` instead.
BUILTIN_SIZE_KEYS = ("kind", "input_size", "tile", "max_side")


class ExportError(ValueError):
    """The config cannot be exported (not the built-in network, unreadable checkpoint...)."""


class DenseGraph(nn.Module):
    """The network's dense pass at a fixed window: what the runtime executes."""

    def __init__(self, model: MultiTaskNet, window: int) -> None:
        super().__init__()
        self.model, self.window = model, window

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.dense(image, self.window)


def exported_config(
    source: DetectorConfig, source_data: dict[str, Any], fmt: str, weights: Path
) -> dict[str, Any]:
    """The exported model's detector-config/1: the source's name, version, licence, fusion and
    calibration (the same network, so the same fusion applies), its runtime, input and outputs."""
    tile = int(source.params.get("tile", INPUT_SIZE))
    max_side = int(source.params.get("max_side", tile))
    data = {k: v for k, v in source_data.items() if k not in BUILTIN_SIZE_KEYS}
    source_name = Path(str(source.source_path)).name
    data.update(
        runtime=fmt,
        weights=weights.name,
        source=(
            f"exported to {fmt} by manage.py export_detector from {source_name} "
            f"(config sha256 {source.config_sha256}); {source.source or 'source not stated'}"
        ),
        input={
            "name": INPUT_NAME,
            "layout": "NCHW",
            "colour_order": "RGB",
            "scale": 255.0,
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
            "size": {
                "policy": "tile",
                "tile": tile,
                "max_side": max_side,
                "multiple": ENCODER_STRIDE,
            },
        },
        outputs={
            "names": list(OUTPUT_NAMES),
            "image_score": {"name": OUTPUT_NAMES[0], "kind": "logit"},
            "map": {"name": OUTPUT_NAMES[1], "kind": "logit"},
        },
        faces={"policy": "crops", "crop_size": tile},
    )
    return data


def export_detector(config_path: Path, *, fmt: str, output: Path) -> Path:
    """Write the model file `output` and its config `output` with suffix .json; returns the
    config's path. Raises ExportError with a one-line message naming the file."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    source = DetectorConfig.from_json(config_path)
    if source.runtime is not None or source.kind != "multitask":
        raise ExportError(f"{config_path} is not a built-in multi-task network config")
    weights = source.weights_path()
    if weights is None:
        raise ExportError(f"{config_path} names no weights file")
    model = load_checkpoint(weights)
    tile = int(source.params.get("tile", INPUT_SIZE))
    graph = DenseGraph(model, tile).eval()
    # Height and width differ so the exporter keeps them apart as dynamic axes.
    example = torch.rand(1, 3, tile, tile + ENCODER_STRIDE)
    output.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Shape arithmetic in `dense` is traced as constants: right for this tile, which the
        # config fixes (images are prepared so the shorter side is at least one tile).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace: deprecated, works
        if fmt == "onnx":
            _export_onnx(graph, example, output)
        else:
            traced = torch.jit.trace(graph, example)  # type: ignore[no-untyped-call]  # unannotated
            traced.save(str(output))
    config_file = output.with_suffix(".json")
    source_data = json.loads(Path(config_path).read_text())
    config_file.write_text(
        json.dumps(exported_config(source, source_data, fmt, output), indent=2) + "\n"
    )
    return config_file


def _export_onnx(graph: DenseGraph, example: torch.Tensor, output: Path) -> None:
    try:
        import onnx  # noqa: F401  # the exporter needs it (dev dependency), not the runtime
    except ImportError as exc:
        raise ExportError("ONNX export needs the onnx package (a dev dependency)") from exc
    spatial = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        graph,
        (example,),
        str(output),
        dynamo=False,  # the TorchScript-based exporter: no onnxscript needed
        input_names=[INPUT_NAME],
        output_names=list(OUTPUT_NAMES),
        dynamic_axes={
            INPUT_NAME: spatial,
            OUTPUT_NAMES[0]: {0: "batch", 1: "rows", 2: "columns"},
            OUTPUT_NAMES[1]: spatial,
        },
        opset_version=ONNX_OPSET,
    )
