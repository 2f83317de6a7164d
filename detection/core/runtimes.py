"""Detectors declared by a config file and run from a model file: ONNX (onnxruntime) or
TorchScript (torch.jit). The config says how pixels become the input tensor and which outputs are
the image score, the map and the face score (detection.core.model_spec); loading checks the file
against it, so a wrong model stops the worker with a message naming the file.

TorchScript archives hold TorchScript code as well as weights: load only files you trust, as for
any model. ONNX files hold a graph of standard operators and no code.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from detection.core.dense import (
    dense_result,
    pad_to_multiple,
    prepare,
    probability,
    probability_logits,
    sigmoid,
)
from detection.core.interface import DetectorConfig, DetectorResult
from detection.core.model_spec import InputSpec, OutputRef, OutputSpec


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or does not match its detector config."""


class ModelRunner(Protocol):
    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Output tensors by name for one float32 input batch."""
        ...


class OnnxRunner:
    def __init__(self, path: Path, input_spec: InputSpec, outputs: OutputSpec) -> None:
        import onnxruntime as ort  # loaded only when an ONNX detector is configured

        options = ort.SessionOptions()
        # Idle intra-op threads sleep instead of spinning: on a machine shared with other jobs
        # spinning threads burn the cores the other threads wait for (as OMP_WAIT_POLICY=PASSIVE
        # does for torch).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types for garbage and truncation
            raise ModelFileError(
                f"cannot read ONNX model {path}: {exc.__class__.__name__}"
            ) from exc
        inputs = [i.name for i in self.session.get_inputs()]
        if inputs != [input_spec.name]:
            raise ModelFileError(
                f"ONNX model {path} takes inputs {inputs}, its config says [{input_spec.name!r}]"
            )
        names = [o.name for o in self.session.get_outputs()]
        if names != list(outputs.names):
            raise ModelFileError(
                f"ONNX model {path} has outputs {names}, its config says {list(outputs.names)}"
            )
        self.input_name, self.names = input_spec.name, names

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(self.names, {self.input_name: batch})
        return {name: np.asarray(value) for name, value in zip(self.names, values, strict=True)}


class TorchScriptRunner:
    def __init__(self, path: Path, outputs: OutputSpec) -> None:
        import torch  # loaded only when a TorchScript detector is configured

        try:
            with warnings.catch_warnings():
                # torch 2.14 marks TorchScript deprecated; it still loads and runs archives.
                warnings.simplefilter("ignore", FutureWarning)
                # TorchScript's loader has no type annotations.
                self.module = torch.jit.load(  # type: ignore[no-untyped-call]
                    str(path), map_location="cpu"
                ).eval()
        except Exception as exc:  # torch raises many types for truncated or foreign files
            raise ModelFileError(
                f"cannot read TorchScript model {path}: {exc.__class__.__name__}"
            ) from exc
        self.path, self.names, self.torch = path, list(outputs.names), torch

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        with self.torch.inference_mode():
            found = self.module(self.torch.from_numpy(batch))
        values = list(found) if isinstance(found, tuple | list) else [found]
        if len(values) != len(self.names):
            raise ModelFileError(
                f"TorchScript model {self.path} returns {len(values)} outputs, its config "
                f"names {len(self.names)}: {self.names}"
            )
        return {name: value.numpy() for name, value in zip(self.names, values, strict=True)}


def model_runner(config: DetectorConfig) -> ModelRunner:
    weights = config.weights_path()
    assert config.input is not None and config.outputs is not None  # checked by from_dict
    if weights is None or not weights.is_file():
        raise ModelFileError(f"model file of detector {config.name} not found: {weights}")
    if config.runtime == "onnx":
        return OnnxRunner(weights, config.input, config.outputs)
    return TorchScriptRunner(weights, config.outputs)


class ModelDetector:
    """Detector protocol around a model file: image score, and map when the config names one."""

    def __init__(self, config: DetectorConfig, runner: ModelRunner) -> None:
        assert config.input is not None and config.outputs is not None  # checked by from_dict
        self.name, self.version = config.name, config.version
        self.spec, self.outputs, self.runner = config.input, config.outputs, runner
        self.description = f"{config.name} ({config.runtime})"
        self.source = config.weights_path()
        self._probe()

    def _probe(self) -> None:
        """Run one blank input so a model whose outputs do not fit the config fails on load."""
        side = self.spec.tile if self.spec.policy == "tile" else 0
        blank = np.zeros((side or self.spec.height, side or self.spec.width, 3), np.uint8)
        try:
            outputs = self.runner.run(self._tensor(pad_to_multiple(blank, self.spec.multiple)))
        except ModelFileError:
            raise
        except Exception as exc:  # the runtime's own error for a wrong input shape or type
            raise ModelFileError(
                f"model {self.source} fails on a {blank.shape[1]}x{blank.shape[0]} input as its "
                f"config describes it: {exc.__class__.__name__}"
            ) from exc
        for ref in self.outputs.refs():
            if outputs[ref.name].size == 0:
                raise ModelFileError(f"model {self.source} returns an empty {ref.name!r}")
        if self.outputs.map is not None:
            self._map(outputs[self.outputs.map.name], blank.shape[:2])

    def _tensor(self, image: np.ndarray) -> np.ndarray:
        pixels = image[:, :, ::-1] if self.spec.colour_order == "BGR" else image
        mean = np.asarray(self.spec.mean, np.float32)
        std = np.asarray(self.spec.std, np.float32)
        values = (pixels.astype(np.float32) / np.float32(self.spec.scale) - mean) / std
        if self.spec.layout == "NCHW":
            values = values.transpose(2, 0, 1)
        return np.ascontiguousarray(values[None])

    def _working(self, image: np.ndarray) -> np.ndarray:
        if self.spec.policy == "tile":
            return prepare(image, self.spec.max_side, self.spec.tile)
        size = (self.spec.width, self.spec.height)
        shrink = image.shape[1] > size[0] or image.shape[0] > size[1]
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def _logits(self, values: np.ndarray, ref: OutputRef) -> np.ndarray:
        flat = np.asarray(values, np.float32).ravel()
        return probability_logits(flat) if ref.kind == "probability" else flat

    def _map(self, values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The map output (N x 1 x H x W or N x H x W) as probabilities on `shape`'s grid; a
        map on the padded input's grid is cropped, any other size is resized."""
        assert self.outputs.map is not None
        found = np.asarray(values, np.float32)
        while found.ndim > 2 and found.shape[0] == 1:
            found = found[0]
        if found.ndim != 2:
            raise ModelFileError(
                f"model {self.source}: map {self.outputs.map.name!r} has shape "
                f"{np.shape(values)}, expected N x 1 x H x W with N = 1"
            )
        if self.outputs.map.kind == "logit":
            found = sigmoid(found)
        height, width = shape[:2]
        padded = pad_to_multiple(np.zeros((height, width, 1), np.uint8), self.spec.multiple)
        if self.spec.policy == "tile" and found.shape == padded.shape[:2]:
            return found[:height, :width]
        return cv2.resize(found, (width, height), interpolation=cv2.INTER_LINEAR)

    def analyze(self, image: np.ndarray) -> DetectorResult:
        working = self._working(image)
        batch = self._tensor(pad_to_multiple(working, self.spec.multiple))
        outputs = self.runner.run(batch)
        logits = self._logits(outputs[self.outputs.image_score.name], self.outputs.image_score)
        probability_map = (
            None
            if self.outputs.map is None
            else self._map(outputs[self.outputs.map.name], working.shape)
        )
        return dense_result(self.description, logits, probability_map, image.shape)


class FaceCropModelDetector(ModelDetector):
    """A ModelDetector whose config asks it to score face crops too (`faces.policy = crops`)."""

    def __init__(self, config: DetectorConfig, runner: ModelRunner) -> None:
        super().__init__(config, runner)
        assert config.faces is not None and config.outputs is not None
        self.face_output = config.outputs.face_score or config.outputs.image_score
        spec, crop_size = self.spec, config.faces.crop_size
        if spec.policy == "tile":
            # Smaller crops than a tile would leave the model's window pooling without a window.
            self.crop_shape = (crop_size or spec.tile,) * 2
            if self.crop_shape[0] < spec.tile:
                raise ModelFileError(
                    f"{config.source_path}: faces.crop_size {crop_size} is below input tile "
                    f"{spec.tile}"
                )
        else:
            self.crop_shape = (spec.width, spec.height)
            if crop_size is not None and (crop_size, crop_size) != self.crop_shape:
                raise ModelFileError(
                    f"{config.source_path}: faces.crop_size {crop_size} differs from the fixed "
                    f"input {spec.width}x{spec.height}"
                )

    def score_crop(self, crop: np.ndarray) -> float:
        """Probability for one face crop resized to the crop size."""
        # The built-in network's rule (inference.MultiTaskDetector.score_crop), so an exported
        # network scores faces as the original does.
        shrink = min(crop.shape[:2]) > min(self.crop_shape)
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        resized = cv2.resize(crop, self.crop_shape, interpolation=interpolation)
        outputs = self.runner.run(self._tensor(pad_to_multiple(resized, self.spec.multiple)))
        logits = self._logits(outputs[self.face_output.name], self.face_output)
        return probability(float(logits.max()))


def model_detector(config: DetectorConfig) -> ModelDetector:
    runner = model_runner(config)
    if config.faces is not None and config.faces.policy == "crops":
        return FaceCropModelDetector(config, runner)
    return ModelDetector(config, runner)
