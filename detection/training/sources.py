"""Permissively licensed source photos for self-supervised training, grouped and split by source.

Only these locations are used: scikit-image bundled samples, scikit-learn sample images, and the
Debian packages' images under SOURCE_DIRS (gnome-backgrounds since issue 19; its SVGs are
rasterised by `mediastore.rasterise`). Other wallpaper packages on the machine are reserved
for independent evaluation and must never be read here (see FORBIDDEN_PARTS).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from detection.core.imaging import bounded_side, to_rgb_uint8
from mediastore import samples
from mediastore.rasterise import render_svg

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
# Each directory with the file types read from it. gnome-backgrounds (issue 19) ships WebP and
# SVG wallpapers; the older directories stay PNG/JPEG only, so their splits keep exactly the
# images the shipped checkpoints were trained and calibrated on (desktop-base's SVGs are
# mostly logos and text). Appended last: no older source moves in the listing.
SOURCE_DIRS = {
    Path("/usr/share/backgrounds/mate"): PHOTO_SUFFIXES,
    Path("/usr/share/desktop-base"): PHOTO_SUFFIXES,
    Path("/usr/share/doc/opencv-doc/examples/data"): PHOTO_SUFFIXES,
    Path("/usr/share/backgrounds/gnome"): (*PHOTO_SUFFIXES, ".webp", ".svg"),
}
FORBIDDEN_PARTS = (
    "plasma-workspace-wallpapers",
    "ukui-wallpapers",
    "lomiri-wallpapers",
    "sway-backgrounds",
    "wallpapers/",
)
# Logos, ground-truth maps, synthetic charts and a known-manipulated sample are not photos.
EXCLUDED_STEMS = re.compile(
    r"(logo|ela_modified|aloegt|mask|templ|tmpl|digits|notes|gradient|chessboard|detect_blob|"
    r"^ml$|^pic\d|cards|sudoku|imagetext|text_|"
    # GNOME's VNC backgrounds: near-flat 256-px tiles, not pictures
    r"^vnc-[dl]$)",
    re.IGNORECASE,
)
# Logos are not photos (EXCLUDED_STEMS), whatever library bundles them.
SKIMAGE_SAMPLES = tuple(name for name in samples.SKIMAGE_SAMPLES if not EXCLUDED_STEMS.search(name))
MIN_SOURCE_SIDE = 256
# Sources larger than this are downscaled once at load: crops would otherwise see only flat
# areas, and memory stays small.
MAX_SOURCE_SIDE = 1600
SPLIT_FRACTIONS = {"train": 0.70, "calibration": 0.15, "test": 0.15}


@dataclass(frozen=True)
class SourceImage:
    name: str  # e.g. "skimage:astronaut" or a file path
    group: str  # images sharing content (stereo pairs, resolutions of one wallpaper) share it
    load: Callable[[], np.ndarray]


def _group_key(path: Path) -> str:
    if "desktop-base" in path.parts:
        return "desktop-base:" + path.parts[path.parts.index("desktop-base") + 1]
    if path.parent.name == "gnome":
        # A design's light and dark variants (adwaita-l, adwaita-d) are one group.
        return "gnome:" + re.sub(r"-[dl]$", "", path.stem.lower())
    stem = path.stem.lower()
    stem = re.sub(r"_\d+x\d+$", "", stem)
    stem = re.sub(r"^mate-", "", stem)
    stem = re.sub(r"(-light|-dark|-warm|-cold|-radioactive)(-no-logo)?$", "", stem)
    stem = re.sub(r"^(left|right)\d*$", "stereo-chessboard", stem)
    stem = re.sub(r"(\d+|_in_scene|_original)$", "", stem)
    stem = re.sub(
        r"^(aloe|leuven|rubberwhale|basketball|graf|aero|blender_suzanne)[lrab]?$", r"\1", stem
    )
    return "file:" + stem


def group_of_name(name: str) -> str:
    """Group key of a SourceImage.name (library samples are their own group)."""
    return name if ":" in name else _group_key(Path(name))


def _load_file(path: Path) -> np.ndarray:
    image: np.ndarray | None
    if path.suffix.lower() == ".svg":
        image = render_svg(path, MAX_SOURCE_SIDE)
    else:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise OSError(f"cannot decode {path}")
    if image.ndim == 3:
        image = image[:, :, ::-1] if image.shape[2] == 3 else image[:, :, [2, 1, 0, 3]]
    return bounded_side(to_rgb_uint8(np.ascontiguousarray(image)), MAX_SOURCE_SIDE)


def _file_sources() -> list[SourceImage]:
    sources = []
    for root, suffixes in SOURCE_DIRS.items():
        for path in sorted(root.rglob("*")):
            text = str(path)
            if any(part in text for part in FORBIDDEN_PARTS) or not path.is_file():
                continue
            if path.suffix.lower() not in suffixes or EXCLUDED_STEMS.search(path.stem):
                continue
            sources.append(SourceImage(text, _group_key(path), partial(_load_file, path)))
    return sources


def _load_library_sample(loader: Callable[[], np.ndarray]) -> np.ndarray:
    return bounded_side(to_rgb_uint8(loader()), MAX_SOURCE_SIDE)


def _load_sklearn_sample(index: int) -> np.ndarray:
    from sklearn.datasets import load_sample_images

    sample: np.ndarray = load_sample_images().images[index].copy()
    return sample


def _library_sources() -> list[SourceImage]:
    from skimage import data as skdata

    sources = []
    for name in SKIMAGE_SAMPLES:
        loader = getattr(skdata, name, None)
        if loader is not None:
            sources.append(
                SourceImage(
                    f"skimage:{name}",
                    f"skimage:{name}",
                    partial(_load_library_sample, loader),
                )
            )
    for index, name in enumerate(("china", "flower")):
        sources.append(
            SourceImage(
                f"sklearn:{name}",
                f"sklearn:{name}",
                partial(_load_sklearn_sample, index),
            )
        )
    return sources


def list_sources() -> list[SourceImage]:
    return _library_sources() + _file_sources()


def split_of(group: str, seed: int) -> str:
    """Deterministic split of a source group (hash-based, so adding a source moves no other)."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for split, fraction in SPLIT_FRACTIONS.items():
        cumulative += fraction
        if position < cumulative:
            return split
    return "test"


def load_split(split: str, seed: int) -> list[tuple[str, np.ndarray]]:
    """(name, image) for every usable source in a split; unreadable or tiny sources skipped."""
    loaded = []
    for source in list_sources():
        if split_of(source.group, seed) != split:
            continue
        try:
            image = source.load()
        except (OSError, ValueError):
            continue
        if min(image.shape[:2]) >= MIN_SOURCE_SIDE:
            loaded.append((source.name, image))
    return loaded
