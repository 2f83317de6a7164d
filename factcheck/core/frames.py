"""Caption bands and borders drawn over where a cropped original would continue.

A copy that was cropped and then given a caption band (the usual meme layout) aligns with its
original such that the original's cropped-away rows land inside the band. Geometrically that is
"inside the overlap", yet the band is framing added around the picture, not an edit of it. Such a
band is a run of near-uniform lines (text allowed) along one side of the query, reaching the
query's edge. It is excluded from the comparison only where the aligned original is NOT that
uniform colour itself: a flat sky at the top of the original stays compared, so text written
onto the sky is still found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FrameRules:
    colour_tolerance: float = 8.0  # Lab distance to the band colour
    min_line_fill: float = 0.35  # share of a line in the band colour (text rows: ~0.5)
    min_thickness: float = 0.02  # of the image side; thinner runs are not bands
    max_thickness: float = 0.4
    reference_same_colour: float = 0.5  # the original is this uniform there: real content


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _band_depth(lines: np.ndarray, rules: FrameRules) -> tuple[int, np.ndarray]:
    """How many consecutive lines from index 0 are in the first line's dominant colour."""
    colour = np.median(lines[0], axis=0)
    close = np.linalg.norm(lines - colour, axis=2) <= rules.colour_tolerance
    filled = close.mean(axis=1) >= rules.min_line_fill
    depth = len(filled) if filled.all() else int(np.argmin(filled))
    return depth, colour


def frame_mask(
    query: np.ndarray,
    warped_reference: np.ndarray,
    valid: np.ndarray,
    rules: FrameRules | None = None,
) -> np.ndarray:
    """Bool mask (query grid) of band pixels to leave out of the comparison."""
    rules = rules or FrameRules()
    query_lab, reference_lab = _lab(query), _lab(np.clip(warped_reference, 0, 255))
    height, width = valid.shape
    frame = np.zeros((height, width), bool)
    # Each side as (lines from the edge inward, how to index those lines back into the grid).
    sides: list[tuple[np.ndarray, Callable[[int], tuple[slice, slice]]]] = [
        (query_lab, lambda d: (slice(0, d), slice(None))),
        (query_lab[::-1], lambda d: (slice(height - d, height), slice(None))),
        (query_lab.transpose(1, 0, 2), lambda d: (slice(None), slice(0, d))),
        (query_lab.transpose(1, 0, 2)[::-1], lambda d: (slice(None), slice(width - d, width))),
    ]
    for lines, region in sides:
        side = len(lines)
        depth, colour = _band_depth(lines[: int(side * rules.max_thickness) + 1], rules)
        if depth < max(2, rules.min_thickness * side):
            continue
        inside = region(depth)
        overlap = valid[inside] > 0
        if not overlap.any():
            continue
        same = np.linalg.norm(reference_lab[inside] - colour, axis=-1) <= rules.colour_tolerance
        if same[overlap].mean() < rules.reference_same_colour:
            frame[inside] = True
    return frame
