"""Torch-free steps shared by every dense (score + map) network runtime: sizing the image for the
network and turning its window logits and map into a DetectorResult on the image's grid. The
built-in PyTorch path (inference.py) and the model-file runtimes (runtimes.py) both use them, so
an exported model is judged exactly as the network it came from."""

from __future__ import annotations

import cv2
import numpy as np

from detection.core.interface import DetectorResult

# Larger images are downscaled first: keeps CPU time bounded (~16x fewer pixels for a 2048 px
# photo) and matches training, which sees sources resized by 0.45-1.0 before cropping.
MAX_ANALYSIS_SIDE = 512
# Map probability percentile used as an image-level feature: robust to a few noisy pixels.
MAP_PEAK_PERCENTILE = 99.5
# Probabilities read from a model are clipped this far from 0 and 1 before taking logits.
PROBABILITY_EPSILON = 1e-6


def prepare(image: np.ndarray, max_side: int, tile: int) -> np.ndarray:
    """Longer side at most `max_side`, shorter side at least `tile` (area / linear resize)."""
    height, width = image.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    # Tiny images are upscaled so that at least one full tile exists.
    factor = max(factor, tile / min(height, width))
    if factor == 1.0:
        return image
    size = (max(tile, round(width * factor)), max(tile, round(height * factor)))
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation)


def pad_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    """Reflect-pad bottom and right so both sides are multiples of `multiple`."""
    height, width = image.shape[:2]
    pad_y, pad_x = (-height) % multiple, (-width) % multiple
    if not pad_y and not pad_x:
        return image
    return np.pad(image, ((0, pad_y), (0, pad_x), (0, 0)), mode="reflect")


def sigmoid(values: np.ndarray) -> np.ndarray:
    found: np.ndarray = 1.0 / (1.0 + np.exp(-values))
    return found


def probability_logits(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(probabilities, PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON)
    found: np.ndarray = np.log(clipped / (1.0 - clipped))
    return found


def probability(logit: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.float64(logit))))


def dense_result(
    description: str,
    window_logits: np.ndarray,
    probability_map: np.ndarray | None,
    image_shape: tuple[int, ...],
) -> DetectorResult:
    """Score = sigmoid of the largest window logit; the map is resized to the image grid; the
    fusion features are the logits' max and mean and the map's peak and area."""
    max_logit = float(window_logits.max())
    score = probability(max_logit)
    features = {"max_logit": max_logit, "mean_logit": float(window_logits.mean())}
    explanation = f"{description}: image score {score:.2f}"
    if probability_map is not None:
        height, width = image_shape[:2]
        if probability_map.shape[:2] != (height, width):
            probability_map = cv2.resize(
                probability_map.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR
            )
        area = float((probability_map > 0.5).mean())
        features["map_peak"] = float(np.percentile(probability_map, MAP_PEAK_PERCENTILE))
        features["map_area"] = area
        explanation += f"; {area:.0%} of pixels segmented as manipulated"
    return DetectorResult(score, probability_map, explanation, features)
