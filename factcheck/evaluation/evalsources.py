"""Image sources allowed for evaluation, and a procedural image generator.

Allowed: scikit-image bundled samples (no download), scikit-learn sample images, the Debian
packages' images under ALLOWED_SYSTEM_DIRS, `gnome-backgrounds` (GNOME_BACKGROUNDS_DIR, hard
tier only, so the base tier's sources stay as they were) and generated images. Other wallpaper
packages are reserved for independent evaluation and must never be read; `iter_system_images`
refuses them by name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from mediastore import samples
from mediastore.rasterise import render_svg

ALLOWED_SYSTEM_DIRS = (
    "/usr/share/backgrounds/mate",
    "/usr/share/desktop-base",
    "/usr/share/doc/opencv-doc/examples/data",
)
GNOME_BACKGROUNDS_DIR = "/usr/share/backgrounds/gnome"
FORBIDDEN_NAME_PARTS = ("plasma-workspace", "ukui", "lomiri", "sway")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
HARD_IMAGE_SUFFIXES = (*IMAGE_SUFFIXES, ".webp", ".svg")
SKIMAGE_SAMPLES = tuple(sorted(set(samples.SKIMAGE_SAMPLES) - set(samples.TEXT_SCANS)))
MIN_SOURCE_SIDE = 256
MAX_SOURCE_SIDE = 1024  # queries are ~1024 px; larger originals only cost decode time here


@dataclass(frozen=True)
class Source:
    name: str
    family: str  # near-identical variants (stereo pairs, sequences) share a family
    load: Callable[[], np.ndarray]


def to_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB from grey, bool, float or RGBA (alpha composited on white)."""
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    elif image.dtype != np.uint8:
        image = np.clip(image * (255 if image.max() <= 1 else 1), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[..., 3:4].astype(np.float32) / 255
        return (image[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(image[..., :3])


def limit_size(image: np.ndarray, max_side: int = MAX_SOURCE_SIDE) -> np.ndarray:
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (round(width * scale), round(height * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def family_of(name: str) -> str:
    """'left07' -> 'left', 'aloeL' -> 'aloe', 'graf3' -> 'graf', 'imageTextR' -> 'imagetext':
    numbered, left/right, A/B or normal/rotated (N/R) variants of one scene would otherwise count
    as unrelated images that 'falsely' match."""
    stem = Path(name).stem
    stem = re.sub(r"[_-]?\d+$", "", stem)
    return re.sub(r"(?<=[a-z])[LRABN]$", "", stem).lower()


def skimage_sources() -> list[Source]:
    from skimage import data

    return [
        Source(f"skimage-{name}", f"skimage-{name}", partial(_skimage_sample, getattr(data, name)))
        for name in SKIMAGE_SAMPLES
    ]


def _skimage_sample(loader: Callable[[], np.ndarray]) -> np.ndarray:
    return to_rgb(loader())


def sklearn_sources() -> list[Source]:
    names = ("china", "flower")
    return [
        Source(f"sklearn-{name}", f"sklearn-{name}", partial(_sklearn_sample, i))
        for i, name in enumerate(names)
    ]


def _sklearn_sample(index: int) -> np.ndarray:
    from sklearn.datasets import load_sample_images

    sample: np.ndarray = load_sample_images().images[index]
    return sample


def iter_system_images(
    roots: tuple[str, ...] = ALLOWED_SYSTEM_DIRS, suffixes: tuple[str, ...] = IMAGE_SUFFIXES
) -> Iterator[Path]:
    for root in roots:
        if any(part in root for part in FORBIDDEN_NAME_PARTS):
            raise ValueError(f"{root} is reserved and must not be used")
        for path in sorted(Path(root).rglob("*")):
            if path.suffix.lower() in suffixes and path.is_file() and not path.is_symlink():
                yield path


def system_sources(roots: tuple[str, ...] = ALLOWED_SYSTEM_DIRS) -> list[Source]:
    def load(path: Path) -> np.ndarray:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ValueError(f"cannot decode {path}")
        if image.ndim == 3:
            image = cv2.cvtColor(
                image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
            )
        return to_rgb(image)

    sources = []
    for path in iter_system_images(roots):
        label = "-".join(path.parts[-3:])
        sources.append(Source(f"sys-{label}", f"sys-{family_of(path.name)}", partial(load, path)))
    return sources


def generated_image(seed: int, size: tuple[int, int] = (768, 1024)) -> np.ndarray:
    """A procedural 'photo': smooth gradient background, noise texture and random shapes, so it
    has both flat areas and SIFT-friendly corners."""
    rng = np.random.default_rng(seed)
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    for channel in range(3):
        a, b, c = rng.uniform(-1, 1, 3)
        image[..., channel] = 128 + 60 * np.sin(a * xx / 90 + b * yy / 110 + c * 3)
    noise = cv2.resize(
        rng.normal(0, 25, (height // 8, width // 8, 3)).astype(np.float32), (width, height)
    )
    image += noise
    for _ in range(int(rng.integers(25, 45))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(10, 90))
        shape = rng.integers(0, 3)
        if shape == 0:
            cv2.circle(image, (x, y), r, colour, -1, cv2.LINE_AA)
        elif shape == 1:
            cv2.rectangle(image, (x, y), (x + r, y + int(r * rng.uniform(0.5, 2))), colour, -1)
        else:
            points = rng.integers(-r, r, (5, 2)) + np.array([x, y])
            cv2.fillPoly(image, [points.astype(np.int32)], colour, cv2.LINE_AA)
    grain = rng.normal(0, 6, image.shape).astype(np.float32)
    grained: np.ndarray = np.clip(image + grain, 0, 255).astype(np.uint8)
    return grained


def generated_sources(count: int, seed: int) -> list[Source]:
    return [
        Source(f"gen-{seed}-{i}", f"gen-{seed}-{i}", partial(generated_image, seed * 100_003 + i))
        for i in range(count)
    ]


def stable_fraction(text: str, seed: int) -> float:
    """Deterministic value in [0, 1) per (text, seed), independent of Python's hash seed."""
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def desktop_colour(name: str) -> np.ndarray:
    """A dark desktop colour per image: transparent wallpapers (MATE's silk and waves, logos)
    are overlays meant to be shown over one, and on white most of them are blank."""
    hue = int(stable_fraction("desktop:" + name, 0) * 180)
    hsv = np.array([[[hue, 110, 70]]], np.uint8)
    colour: np.ndarray = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    return colour


def load_hard_image(path: Path) -> np.ndarray:
    """uint8 RGB of a PNG/JPEG/WebP/SVG; transparency is composited over desktop_colour."""
    image: np.ndarray | None
    if path.suffix.lower() == ".svg":
        image = render_svg(path, MAX_SOURCE_SIDE)
    else:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot decode {path}")
    if image.dtype != np.uint8:
        image = (image / 257).astype(np.uint8)  # 16-bit PNG
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    rgba = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA).astype(np.float32)
    alpha = rgba[..., 3:4] / 255
    composite = rgba[..., :3] * alpha + desktop_colour(path.name) * (1 - alpha)
    return np.clip(composite + 0.5, 0, 255).astype(np.uint8)


def design_group(path: Path) -> str:
    """Versions of one design share a group: GNOME's light/dark pairs, a desktop-base theme's
    boot and login screens, MATE's colour variants and resolutions of one wallpaper. Other
    files group as `family_of` groups them (sequences and stereo pairs of one scene)."""
    stem = path.stem.lower()
    if path.parent.name == "gnome":
        return "gnome-" + re.sub(r"-[dl]$", "", stem)
    theme = next((part for part in path.parts if part.endswith("-theme")), None)
    if theme:
        return f"sys-desktop-{theme}"
    if path.parent.name == "debian-logos":
        return "sys-debian-logos"
    if "mate" in path.parts:
        stem = re.sub(r"_\d+x\d+$", "", stem)
        stem = re.sub(r"^(ubuntu-mate)-.*", r"\1", stem)
        return "sys-mate-" + re.sub(r"-(dark|light)$", "", stem)
    return f"sys-{family_of(path.name)}"
