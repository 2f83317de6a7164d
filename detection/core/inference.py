"""Inference wrapper for the multi-task network: tiles an image at the network's input size and
returns an image score plus a manipulation map on the original pixel grid."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from detection.core.dense import (
    MAX_ANALYSIS_SIDE,
    dense_result,
    pad_to_multiple,
    prepare,
    probability,
    sigmoid,
)
from detection.core.interface import DetectorResult
from detection.core.network import ENCODER_STRIDE, INPUT_SIZE, MultiTaskNet, load_checkpoint


def run_dense(
    model: MultiTaskNet, image: np.ndarray, window: int = INPUT_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """(window image logits, map logits on `image`'s grid) from one fully convolutional pass.

    Independent tiles were measured to leave dark seams along every tile border (each tile
    zero-pads its edges); one pass over the reflect-padded image has none.
    """
    height, width = image.shape[:2]
    padded = pad_to_multiple(image, ENCODER_STRIDE)
    tensor = torch.from_numpy(padded.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.inference_mode():
        window_logits, map_logits = model.dense(tensor.contiguous(), window)
    return window_logits.numpy().ravel(), map_logits[0, 0, :height, :width].numpy()


class MultiTaskDetector:
    """Detector protocol implementation around a MultiTaskNet checkpoint."""

    def __init__(
        self,
        name: str,
        version: str,
        weights: Path | str,
        max_side: int = MAX_ANALYSIS_SIDE,
        tile: int = INPUT_SIZE,
        threads: int | None = None,
    ) -> None:
        self.name, self.version = name, version
        self.model = load_checkpoint(weights)
        self.max_side, self.tile = max_side, tile
        if threads:
            torch.set_num_threads(threads)

    @classmethod
    def from_model(
        cls,
        model: MultiTaskNet,
        name: str = "multitask",
        version: str = "dev",
        max_side: int = MAX_ANALYSIS_SIDE,
        tile: int = INPUT_SIZE,
    ) -> MultiTaskDetector:
        detector = cls.__new__(cls)
        detector.name, detector.version = name, version
        detector.max_side, detector.tile = max_side, tile
        detector.model = model.eval()
        return detector

    def analyze(self, image: np.ndarray) -> DetectorResult:
        working = prepare(image, self.max_side, self.tile)
        tile_logits, map_logits = run_dense(self.model, working, self.tile)
        return dense_result("multi-task network", tile_logits, sigmoid(map_logits), image.shape)

    def score_crop(self, crop: np.ndarray) -> float:
        """Probability for one crop (e.g. a face) resized to the network input."""
        resized = cv2.resize(
            crop,
            (self.tile, self.tile),
            interpolation=cv2.INTER_AREA if min(crop.shape[:2]) > self.tile else cv2.INTER_LINEAR,
        )
        tile_logits, _ = run_dense(self.model, resized, self.tile)
        return probability(float(tile_logits.max()))
