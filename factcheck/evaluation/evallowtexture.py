"""Procedural low-texture images for the hard evaluation tier: where local features fail.

Each generator draws the picture's design (palette, layout, size) from `seed` and its details
(angles, noise field, shape positions, words) from `(seed, sibling)`. Sibling 0 is the image
itself; siblings 1, 2, ... share its design but are different pictures, so they make
adversarial distractors: they look like the original to a global descriptor but are not it.
No grain is added: smooth fields and flat areas are the point.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from factcheck.evaluation.evaledits import random_words

Rng = np.random.Generator
SIZES = ((768, 1024), (1024, 768), (576, 1024), (1024, 1024))  # (height, width)
KIND_SALT = {"gradient": 11, "fog": 12, "illustration": 13, "text_card": 14, "abstract": 15}


def _rngs(kind: str, seed: int, sibling: int) -> tuple[Rng, Rng]:
    salt = KIND_SALT[kind]
    return np.random.default_rng([salt, seed]), np.random.default_rng([salt, seed, sibling, 1])


def _palette(rng: Rng, count: int) -> np.ndarray:
    return rng.uniform(20, 235, (count, 3)).astype(np.float32)


def _ramp(t: np.ndarray, stops: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Piecewise-linear colour ramp over t in [0, 1]."""
    return np.stack([np.interp(t, positions, stops[:, c]) for c in range(3)], axis=-1).astype(
        np.float32
    )


def _low_frequency(rng: Rng, shape: tuple[int, int], cells: tuple[int, ...]) -> np.ndarray:
    """Smooth noise in [0, 1]: octaves of Gaussian noise on coarse grids, upsampled (bicubic),
    weighted so the coarsest grid dominates: clouds and fog, not texture."""
    height, width = shape
    field = np.zeros(shape, np.float32)
    for octave, cell in enumerate(cells):
        grid = rng.normal(0, 1, (max(2, height // cell), max(2, width // cell))).astype(np.float32)
        field += cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC) / (2**octave)
    field -= field.min()
    return field / max(float(field.max()), 1e-6)


def gradient_image(seed: int, sibling: int = 0) -> np.ndarray:
    """A smooth linear or radial gradient of 2-4 colours; half are posterised into noise-free
    flat bands."""
    design, detail = _rngs("gradient", seed, sibling)
    height, width = SIZES[int(design.integers(len(SIZES)))]
    stops = _palette(design, int(design.integers(2, 5)))
    bands = int(design.choice([0, int(design.integers(5, 13))]))
    radial = bool(design.random() < 0.3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if radial:
        cx, cy = detail.uniform(0.2, 0.8) * width, detail.uniform(0.2, 0.8) * height
        t = np.hypot(xx - cx, yy - cy) / np.hypot(width, height)
    else:
        angle = detail.uniform(0, np.pi)
        t = xx * np.cos(angle) + yy * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    if bands:
        t = np.floor(t * bands) / (bands - 1)
    inner = np.sort(detail.uniform(0.15, 0.85, len(stops) - 2))
    positions = np.concatenate([[0.0], inner, [1.0]])
    gradient: np.ndarray = np.clip(_ramp(t, stops, positions), 0, 255).astype(np.uint8)
    return gradient


FOG_MODES = ("sky", "fog", "dusk_water")


def _fog_design(design: Rng) -> tuple[int, int, str]:
    height, width = SIZES[int(design.integers(len(SIZES)))]
    return height, width, str(design.choice(FOG_MODES))


def fog_mode(seed: int) -> str:
    """Which of FOG_MODES fog_image(seed) draws (its siblings share it)."""
    return _fog_design(_rngs("fog", seed, 0)[0])[2]


def fog_image(seed: int, sibling: int = 0) -> np.ndarray:
    """Sky with soft clouds, grey fog over faint hills, or water at dusk reflecting the sky."""
    design, detail = _rngs("fog", seed, sibling)
    height, width, mode = _fog_design(design)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None].repeat(width, axis=1)
    noise = _low_frequency(detail, (height, width), (256, 128, 64))
    if mode == "sky":
        top, bottom = design.uniform([20, 60, 120], [80, 130, 200]), design.uniform(170, 230, 3)
        sky = _ramp(t, np.stack([top, bottom]).astype(np.float32), np.array([0.0, 1.0]))
        cloud = np.clip((noise - design.uniform(0.45, 0.6)) * 4, 0, 1)[..., None]
        image = sky * (1 - cloud) + design.uniform(225, 250) * cloud
    elif mode == "fog":
        grey = design.uniform(150, 215) + design.uniform(-12, 12, 3)
        image = np.broadcast_to(grey, (height, width, 3)) + (noise[..., None] - 0.5) * 30
        ridge = height * (0.6 + 0.15 * np.sin(np.linspace(0, detail.uniform(2, 6), width)))
        below = (np.arange(height)[:, None] > ridge[None, :]).astype(np.float32)
        hills = cv2.GaussianBlur(below, (0, 0), 25)[..., None]
        image = image * (1 - 0.25 * hills)
    else:
        horizon = int(height * detail.uniform(0.4, 0.6))
        stops = np.stack(
            [
                design.uniform([40, 20, 70], [90, 50, 120]),
                design.uniform([200, 90, 40], [250, 160, 90]),
            ]
        ).astype(np.float32)
        sky = _ramp(t[:horizon] / max(t[horizon - 1, 0], 1e-6), stops, np.array([0.0, 1.0]))
        water: np.ndarray = sky[::-1][: height - horizon] * 0.6
        if len(water) < height - horizon:
            water = cv2.resize(water, (width, height - horizon))
        ripples = _low_frequency(detail, (height - horizon, width), (8, 4))
        ripples = cv2.resize(cv2.resize(ripples, (8, height - horizon)), (width, height - horizon))
        water = water * (0.85 + 0.3 * ripples[..., None])
        image = np.concatenate([sky, water], axis=0)
    return np.clip(image, 0, 255).astype(np.uint8)


def illustration_image(seed: int, sibling: int = 0) -> np.ndarray:
    """A flat vector-like scene: a two-colour background and a few flat shapes (sun, hills,
    mountains, rounded boxes), anti-aliased, no texture."""
    design, detail = _rngs("illustration", seed, sibling)
    height, width = SIZES[int(design.integers(len(SIZES)))]
    colours = _palette(design, 6)
    image = np.empty((height, width, 3), np.float32)
    split = int(height * detail.uniform(0.5, 0.75))
    image[:split], image[split:] = colours[0], colours[1]
    shapes = design.choice(["sun", "hill", "mountain", "box"], int(design.integers(3, 8)))
    for index, shape in enumerate(shapes):
        colour = tuple(float(v) for v in colours[2 + index % 4])
        x, y = int(detail.integers(0, width)), int(detail.integers(height // 8, split))
        size = int(detail.uniform(0.06, 0.2) * width)
        if shape == "sun":
            cv2.circle(image, (x, y), size // 2, colour, -1, cv2.LINE_AA)
        elif shape == "hill":
            cv2.ellipse(image, (x, split), (size * 2, size), 0, 180, 360, colour, -1, cv2.LINE_AA)
        elif shape == "mountain":
            points = np.array([[x - size, split], [x, split - size * 1.4], [x + size, split]])
            cv2.fillPoly(image, [points.astype(np.int32)], colour, cv2.LINE_AA)
        else:
            x0, y0 = x - size // 2, y - size // 3
            cv2.rectangle(image, (x0, y0), (x0 + size, y0 + size * 2 // 3), colour, -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def text_card_image(seed: int, sibling: int = 0) -> np.ndarray:
    """A quote card: flat or two-stop gradient background, one or two short lines of text,
    sometimes a thin frame."""
    design, detail = _rngs("text_card", seed, sibling)
    height, width = SIZES[int(design.integers(len(SIZES)))]
    stops = _palette(design, 2)
    if design.random() < 0.5:
        stops[1] = stops[0]
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None].repeat(width, axis=1)
    image = _ramp(t, stops, np.array([0.0, 1.0]))
    ink = (20.0,) * 3 if stops.mean() > 128 else (240.0,) * 3
    lines = int(design.integers(1, 3))
    scale = design.uniform(1.5, 3.0) * width / 1024
    thickness = max(2, int(scale * 2))
    for line in range(lines):
        words = random_words(detail, int(detail.integers(1, 4)))
        (text_w, text_h), _ = cv2.getTextSize(words, cv2.FONT_HERSHEY_DUPLEX, scale, thickness)
        x = max(4, (width - text_w) // 2)
        y = int(height * (0.45 + 0.15 * line)) + text_h // 2
        cv2.putText(
            image, words, (x, y), cv2.FONT_HERSHEY_DUPLEX, scale, ink, thickness, cv2.LINE_AA
        )
    if design.random() < 0.5:
        margin = int(0.05 * min(height, width))
        cv2.rectangle(image, (margin, margin), (width - margin, height - margin), ink, 2)
    card: np.ndarray = np.clip(image, 0, 255).astype(np.uint8)
    return card


def abstract_image(seed: int, sibling: int = 0) -> np.ndarray:
    """Abstract art: blurred translucent ribbons (sine curves) over a plain background, like
    the silk and wave wallpapers."""
    design, detail = _rngs("abstract", seed, sibling)
    height, width = SIZES[int(design.integers(len(SIZES)))]
    colours = _palette(design, 5)
    image: np.ndarray = np.broadcast_to(colours[0] * 0.5, (height, width, 3)).astype(np.float32)
    xx = np.arange(width, dtype=np.float32)
    yy = np.arange(height, dtype=np.float32)[:, None]
    for index in range(int(design.integers(3, 7))):
        frequency = detail.uniform(0.5, 2.5) * 2 * np.pi / width
        centre = detail.uniform(0.2, 0.8) * height + detail.uniform(0.05, 0.25) * height * np.sin(
            frequency * xx + detail.uniform(0, 2 * np.pi)
        )
        thickness = detail.uniform(0.03, 0.12) * height
        ribbon = np.exp(-(((yy - centre[None, :]) / thickness) ** 2))
        alpha = (ribbon * detail.uniform(0.35, 0.8))[..., None]
        image = image * (1 - alpha) + colours[1 + index % 4] * alpha
    image = cv2.GaussianBlur(image, (0, 0), 3)
    return np.clip(image, 0, 255).astype(np.uint8)


LOW_TEXTURE_GENERATORS: dict[str, Callable[[int, int], np.ndarray]] = {
    "gradient": gradient_image,
    "fog": fog_image,
    "illustration": illustration_image,
    "text_card": text_card_image,
    "abstract": abstract_image,
}
