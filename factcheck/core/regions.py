"""Explainable classification of edited regions into added / removed / altered / text.

Each rule compares the query with the aligned reference inside one connected region:
- text: the difference consists of several thin, high-contrast strokes (letters);
- altered: the structure is unchanged (grey levels still correlate) but colours differ;
- removed: the query is much smoother than the reference there (something was inpainted away);
- added: anything else, i.e. new structure that is not in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class RegionRules:
    text_min_aspect: float = 1.8  # text lines are wide
    text_min_contrast: int = 40
    text_min_strokes: int = 3
    text_max_fill: float = 0.6  # stroke pixels / bounding-box pixels
    text_max_colour_std: float = 28.0  # grey-level spread on stroke cores
    altered_min_correlation: float = 0.6
    removed_max_texture_ratio: float = 0.6


def _texture(gray: np.ndarray, inside: np.ndarray) -> float:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.hypot(gx, gy)[inside].mean()) if inside.any() else 0.0


def _correlation(a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> float:
    a, b = a[inside].astype(np.float64), b[inside].astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 1e-9 else 0.0


def _looks_like_text(
    query: np.ndarray, reference: np.ndarray, inside: np.ndarray, rules: RegionRules
) -> bool:
    """Overlaid text: a wide band of several high-contrast strokes drawn in one uniform colour
    (a splice also has many difference blobs, but its pixels vary in colour)."""
    height, width = inside.shape
    if width < rules.text_min_aspect * height:
        return False
    difference = cv2.absdiff(query, reference)
    difference[~inside] = 0
    if difference.max() < rules.text_min_contrast:
        return False
    _, strokes = cv2.threshold(difference, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    _, _, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
    if int((stats[1:, cv2.CC_STAT_AREA] >= 4).sum()) < rules.text_min_strokes:
        return False
    fill = float((strokes > 0).sum()) / float(inside.size)
    # Stroke cores (away from anti-aliased, JPEG-smeared edges) carry the text colour.
    core = cv2.distanceTransform(strokes, cv2.DIST_L2, 3) >= 1.5
    if not core.any():
        core = strokes > 0
    return fill <= rules.text_max_fill and float(query[core].std()) <= rules.text_max_colour_std


def classify_region(
    query_rgb: np.ndarray,
    reference_rgb: np.ndarray,
    inside: np.ndarray,
    rules: RegionRules | None = None,
) -> str:
    rules = rules or RegionRules()
    query = cv2.cvtColor(query_rgb, cv2.COLOR_RGB2GRAY)
    reference = cv2.cvtColor(reference_rgb, cv2.COLOR_RGB2GRAY)
    if _looks_like_text(query, reference, inside, rules):
        return "text"
    if _correlation(query, reference, inside) >= rules.altered_min_correlation:
        return "altered"
    query_texture, reference_texture = _texture(query, inside), _texture(reference, inside)
    if query_texture < rules.removed_max_texture_ratio * reference_texture:
        return "removed"
    return "added"


def classify_regions(
    query_small: np.ndarray,
    reference_small: np.ndarray,
    mask_small: np.ndarray,
    full_shape: tuple[int, int],
) -> list[dict[str, Any]]:
    """Regions of `mask_small` (working grid) with bbox in full-resolution query pixels,
    area as a fraction of the query image, largest first."""
    full_h, full_w = full_shape
    small_h, small_w = mask_small.shape
    scale_x, scale_y = full_w / small_w, full_h / small_h
    reference_small = np.clip(reference_small, 0, 255).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask_small, connectivity=8)
    regions = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        inside = labels[y : y + h, x : x + w] == label
        kind = classify_region(
            query_small[y : y + h, x : x + w], reference_small[y : y + h, x : x + w], inside
        )
        x0, y0 = int(np.floor(x * scale_x)), int(np.floor(y * scale_y))
        x1, y1 = (
            min(full_w, int(np.ceil((x + w) * scale_x))),
            min(full_h, int(np.ceil((y + h) * scale_y))),
        )
        regions.append(
            {
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area_fraction": round(area / float(small_h * small_w), 6),
                "kind": kind,
            }
        )
    return sorted(regions, key=lambda region: -region["area_fraction"])
