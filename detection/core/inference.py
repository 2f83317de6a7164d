"""Inference wrapper for the multi-task network: tiles an image at the network's input size and
returns an image score plus a manipulation map on the original pixel grid."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from detection.core.interface import DetectorResult
from detection.core.network import ENCODER_STRIDE, INPUT_SIZE, MultiTaskNet, load_checkpoint

# Larger images are downscaled first: keeps CPU time bounded (~16x fewer pixels for a 2048 px
# photo) and matches training, which sees sources resized by 0.45-1.0 before cropping.
MAX_ANALYSIS_SIDE = 512
# Map probability percentile used as an image-level feature: robust to a few noisy pixels.
MAP_PEAK_PERCENTILE = 99.5


def _prepare(image: np.ndarray, max_side: int, tile: int) -> np.ndarray:
    height, width = image.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    # Tiny images are upscaled so that at least one full tile exists.
    factor = max(factor, tile / min(height, width))
    if factor == 1.0:
        return image
    size = (max(tile, round(width * factor)), max(tile, round(height * factor)))
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation)


def run_dense(
    model: MultiTaskNet, image: np.ndarray, window: int = INPUT_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """(window image logits, map logits on `image`'s grid) from one fully convolutional pass.

    Independent tiles were measured to leave dark seams along every tile border (each tile
    zero-pads its edges); one pass over the reflect-padded image has none.
    """
    height, width = image.shape[:2]
    pad_y, pad_x = (-height) % ENCODER_STRIDE, (-width) % ENCODER_STRIDE
    padded = np.pad(image, ((0, pad_y), (0, pad_x), (0, 0)), mode="reflect")
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
        working = _prepare(image, self.max_side, self.tile)
        tile_logits, map_logits = run_dense(self.model, working, self.tile)
        probability_map = 1.0 / (1.0 + np.exp(-map_logits))
        if working.shape[:2] != image.shape[:2]:
            probability_map = cv2.resize(
                probability_map, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR
            )
        peak = float(np.percentile(probability_map, MAP_PEAK_PERCENTILE))
        max_logit = float(tile_logits.max())
        score = float(1.0 / (1.0 + np.exp(-max_logit)))
        area = float((probability_map > 0.5).mean())
        explanation = (
            f"multi-task network: image score {score:.2f}; "
            f"{area:.0%} of pixels segmented as manipulated"
        )
        features = {
            "max_logit": max_logit,
            "mean_logit": float(tile_logits.mean()),
            "map_peak": peak,
            "map_area": area,
        }
        return DetectorResult(score, probability_map, explanation, features)

    def score_crop(self, crop: np.ndarray) -> float:
        """Probability for one crop (e.g. a face) resized to the network input."""
        resized = cv2.resize(
            crop,
            (self.tile, self.tile),
            interpolation=cv2.INTER_AREA if min(crop.shape[:2]) > self.tile else cv2.INTER_LINEAR,
        )
        tile_logits, _ = run_dense(self.model, resized, self.tile)
        return float(1.0 / (1.0 + np.exp(-tile_logits.max())))
