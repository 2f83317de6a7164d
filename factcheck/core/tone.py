"""Undo global tone changes (brightness, contrast, gamma, tint) between aligned images.

Once the reference is warped onto the query, every overlapping pixel is a (reference value,
query value) pair. Per channel, the tone curve is the median query value of all pixels sharing a
reference value: edits cover a minority of pixels, so the median ignores them. (Matching the two
histograms instead lets a large recoloured region bend the curve for the whole image, which
hides the edit and invents differences elsewhere.) The curve is made non-decreasing, since the
global adjustments a copy goes through preserve the order of intensities.
"""

from __future__ import annotations

import numpy as np

LEVELS = 256


def _isotonic(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators); inputs are short."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, weight2, length2 = blocks.pop()
            mean1, weight1, length1 = blocks.pop()
            total = weight1 + weight2
            blocks.append([(mean1 * weight1 + mean2 * weight2) / total, total, length1 + length2])
    return np.concatenate([np.full(length, mean) for mean, _, length in blocks])


def tone_curve(
    reference: np.ndarray, query: np.ndarray, bins: int, min_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) points of the curve mapping reference values to query values, for one channel."""
    bin_of = np.clip((reference * (bins / LEVELS)).astype(np.int64), 0, bins - 1)
    query_level = np.clip(np.rint(query), 0, LEVELS - 1).astype(np.int64)
    joint = np.bincount(bin_of * LEVELS + query_level, minlength=bins * LEVELS)
    joint = joint.reshape(bins, LEVELS)
    counts = joint.sum(axis=1)
    medians = (np.cumsum(joint, axis=1) >= (counts[:, None] + 1) / 2).argmax(axis=1)
    centres = np.bincount(bin_of, weights=reference, minlength=bins) / np.maximum(counts, 1)
    used = counts >= min_count
    if used.sum() < 2:  # too few distinct levels to fit: leave the channel as it is
        return np.array([0.0, LEVELS - 1.0]), np.array([0.0, LEVELS - 1.0])
    fitted = _isotonic(medians[used].astype(np.float64), counts[used].astype(np.float64))
    return centres[used], fitted


def match_tone(
    reference: np.ndarray, query: np.ndarray, mask: np.ndarray, bins: int = 64
) -> np.ndarray:
    """`reference` (float32 RGB, aligned with `query`) with each channel mapped through its
    tone curve, fitted on the pixels where `mask` is set."""
    inside = mask > 0
    min_count = max(8, int(inside.sum()) // (bins * 50))
    out = np.empty(reference.shape, np.float32)
    for channel in range(reference.shape[2]):
        x, y = tone_curve(
            reference[..., channel][inside], query[..., channel][inside], bins, min_count
        )
        out[..., channel] = np.interp(reference[..., channel], x, y)
    return out
