"""Procedural training images of the classes where local features and PDQ fail: smooth
gradients, sky/fog-like low-frequency fields, flat-shape illustrations, text cards, abstract art.

`procedural_image(kind, design, variant, size)`: `design` fixes the picture's palette and layout,
`variant` its details. Variant 0 is the picture; variants 1, 2, ... share the design but are
different pictures (hard negatives: a descriptor must not merge them). Training draws designs
from TRAIN_DESIGN_SEEDS and evaluation from EVAL_DESIGN_SEEDS, ranges that never overlap (nor
overlap the evaluation case generator's seeds, which stay below 20,000,000).
"""

from __future__ import annotations

import string
from collections.abc import Callable

import cv2
import numpy as np

Rng = np.random.Generator
KINDS = ("gradient", "sky", "shapes", "text_card", "abstract")
TRAIN_DESIGN_SEEDS = (100_000_000, 200_000_000)
EVAL_DESIGN_SEEDS = (300_000_000, 300_100_000)
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)


def _rngs(kind: str, design: int, variant: int) -> tuple[Rng, Rng]:
    salt = 1 + KINDS.index(kind)
    return np.random.default_rng([salt, design]), np.random.default_rng([salt, design, variant, 7])


def _palette(rng: Rng, count: int) -> np.ndarray:
    return rng.uniform(10, 245, (count, 3)).astype(np.float32)


def _smooth_field(rng: Rng, shape: tuple[int, int], coarsest: int, octaves: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: coarse random grids upsampled bicubically."""
    height, width = shape
    field: np.ndarray = np.zeros(shape, np.float32)
    for octave in range(octaves):
        cells = coarsest * 2**octave
        grid = rng.normal(0, 1, (cells, max(2, round(cells * width / height)))).astype(np.float32)
        field += cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC) / 1.8**octave
    field -= field.min()
    return field / max(float(field.max()), 1e-6)


def _ramp(t: np.ndarray, stops: np.ndarray) -> np.ndarray:
    positions = np.linspace(0, 1, len(stops))
    return np.stack([np.interp(t, positions, stops[:, c]) for c in range(3)], axis=-1)


def gradient(design: Rng, detail: Rng, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    stops = _palette(design, int(design.integers(2, 5)))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if design.random() < 0.35:
        cx, cy = detail.uniform(0, 1, 2) * (width, height)
        t = np.hypot(xx - cx, yy - cy) / np.hypot(width, height)
    else:
        angle = detail.uniform(0, np.pi)
        t = (xx * np.cos(angle) + yy * np.sin(angle)) / (width + height)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    t = np.clip(t + 0.08 * _smooth_field(detail, size, 2, 1), 0, 1)
    bands = int(design.integers(4, 12)) if design.random() < 0.4 else 0
    if bands:
        t = np.floor(t * bands) / (bands - 1)
    return _ramp(np.clip(t, 0, 1), stops)


def sky(design: Rng, detail: Rng, size: tuple[int, int]) -> np.ndarray:
    """Sky, fog or water at dusk: a vertical colour ramp plus soft low-frequency clouds."""
    height, width = size
    stops = _palette(design, 3)
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None].repeat(width, axis=1)
    image = _ramp(yy, stops)
    clouds = _smooth_field(detail, size, int(design.integers(2, 5)), 3)
    cloud_colour = _palette(design, 1)[0]
    strength = float(design.uniform(0.3, 0.8))
    alpha = np.clip((clouds - design.uniform(0.3, 0.6)) * 2.5, 0, 1)[..., None] * strength
    image = image * (1 - alpha) + cloud_colour * alpha
    if design.random() < 0.4:  # a dark horizon (hills, sea line)
        line = height * (0.6 + 0.3 * _smooth_field(detail, (1, width), 2, 2)[0] * 0.5)
        below = (np.arange(height)[:, None] > line[None, :]).astype(np.float32)
        shade = cv2.GaussianBlur(below, (0, 0), 1.5)[..., None]
        image = image * (1 - shade) + _palette(design, 1)[0] * 0.4 * shade
    sky: np.ndarray = image
    return sky


def shapes(design: Rng, detail: Rng, size: tuple[int, int]) -> np.ndarray:
    """A flat illustration: a plain background and a few flat-coloured shapes, no texture."""
    height, width = size
    colours = _palette(design, 5)
    image = np.empty((height, width, 3), np.float32)
    image[:] = colours[0]
    for _ in range(int(design.integers(3, 9))):
        colour = tuple(float(v) for v in colours[int(detail.integers(1, 5))])
        x, y = int(detail.integers(0, width)), int(detail.integers(0, height))
        radius = int(detail.uniform(0.05, 0.3) * min(height, width))
        kind = int(detail.integers(0, 3))
        if kind == 0:
            cv2.circle(image, (x, y), radius, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(
                image, (x - radius, y - radius // 2), (x + radius, y + radius), colour, -1
            )
        else:
            points = detail.integers(-radius, radius + 1, (int(detail.integers(3, 6)), 2))
            cv2.fillPoly(image, [(points + np.array([x, y])).astype(np.int32)], colour, cv2.LINE_AA)
    return image


def _words(rng: Rng, count: int) -> str:
    return " ".join(
        "".join(rng.choice(list(string.ascii_letters), int(rng.integers(2, 9))))
        for _ in range(count)
    )


def text_card(design: Rng, detail: Rng, size: tuple[int, int]) -> np.ndarray:
    """A quote card or announcement: flat or two-tone background, lines of text."""
    height, width = size
    background, second, ink = _palette(design, 3)
    image = np.empty((height, width, 3), np.float32)
    image[:] = background
    if design.random() < 0.5:
        split = int(height * design.uniform(0.2, 0.8))
        image[split:] = second
    font = FONTS[int(design.integers(len(FONTS)))]
    scale = float(design.uniform(0.6, 1.6)) * height / 400
    thickness = max(1, round(scale * 2))
    lines = int(design.integers(2, 6))
    for line in range(lines):
        y = int(height * (0.2 + 0.65 * line / max(1, lines - 1 + 0.5)))
        x = int(width * detail.uniform(0.04, 0.2))
        text = _words(detail, int(detail.integers(2, 5)))
        colour = tuple(float(v) for v in ink)
        cv2.putText(image, text, (x, y), font, scale, colour, thickness, cv2.LINE_AA)
    return image


def abstract(design: Rng, detail: Rng, size: tuple[int, int]) -> np.ndarray:
    """Abstract art: a smooth colour field with translucent strokes and blobs."""
    height, width = size
    colours = _palette(design, 4)
    image = _ramp(_smooth_field(detail, size, int(design.integers(1, 4)), 2), colours[:3])
    overlay = image.copy()
    for _ in range(int(design.integers(4, 14))):
        colour = tuple(float(v) for v in _palette(detail, 1)[0])
        points = detail.uniform(0, 1, (int(detail.integers(2, 5)), 2)) * (width, height)
        thickness = max(1, int(detail.uniform(0.005, 0.05) * min(height, width)))
        cv2.polylines(overlay, [points.astype(np.int32)], False, colour, thickness, cv2.LINE_AA)
        if detail.random() < 0.4:
            centre = tuple(int(v) for v in points[0])
            axes = tuple(int(v) for v in detail.uniform(0.03, 0.2, 2) * min(height, width))
            angle = float(detail.uniform(0, 180))
            cv2.ellipse(overlay, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
    alpha = float(design.uniform(0.5, 0.9))
    return image * (1 - alpha) + overlay * alpha


GENERATORS: dict[str, Callable[[Rng, Rng, tuple[int, int]], np.ndarray]] = {
    "gradient": gradient,
    "sky": sky,
    "shapes": shapes,
    "text_card": text_card,
    "abstract": abstract,
}


def procedural_image(
    kind: str, design: int, variant: int = 0, size: tuple[int, int] = (288, 384)
) -> np.ndarray:
    """uint8 RGB image of `kind`; (design, variant) identify it. The aspect ratio is a design
    choice (landscape, portrait, square), scaled to fit `size`'s longer side."""
    design_rng, detail_rng = _rngs(kind, design, variant)
    longer = max(size)
    aspect = (0.75, 1.0, 1.333, 0.5625, 1.5)[int(design_rng.integers(5))]
    height, width = (
        (longer, round(longer * aspect)) if aspect < 1 else (round(longer / aspect), longer)
    )
    if aspect == 1.0:
        height = width = round(longer * 0.85)
    image = GENERATORS[kind](design_rng, detail_rng, (height, width))
    pixels: np.ndarray = np.clip(image, 0, 255).astype(np.uint8)
    return pixels
