"""Training data of the copy descriptor: permitted photos of the evaluation's `tune` families
only, minus a held-out share kept for the descriptor-only evaluation, plus procedural images.

The family split is the evaluation's own (`evalsources.stable_fraction(family, 0)` against
`evalcases.TUNE_FRACTION`), so nothing of the `test` split is ever trained on. A wallpaper's
light/dark or day/night versions must fall on the tune side under both the evaluation's family
name and a coarser one that merges those versions, since an evaluation may group them either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from factcheck.evaluation.evalcases import TUNE_FRACTION
from factcheck.evaluation.evalsources import (
    ALLOWED_SYSTEM_DIRS,
    GNOME_BACKGROUNDS_DIR,
    IMAGE_SUFFIXES,
    Source,
    design_group,
    family_of,
    generated_image,
    iter_system_images,
    skimage_sources,
    sklearn_sources,
    stable_fraction,
    to_rgb,
)
from factcheck.training.augment import augmented_view
from factcheck.training.procedural import KINDS, TRAIN_DESIGN_SEEDS, procedural_image

PHOTO_ROOTS = (*ALLOWED_SYSTEM_DIRS, GNOME_BACKGROUNDS_DIR)
PHOTO_SUFFIXES = (*IMAGE_SUFFIXES, ".webp")
SPLIT_SEED = 0  # the evaluation's default --seed: its tune/test family split
HOLDOUT_FRACTION = 0.3  # of tune families, never trained on: the descriptor evaluation's photos
PHOTO_MAX_SIDE = 384
PHOTO_MIN_SIDE = 128
PROCEDURAL_SIZE = (288, 384)
PHOTO_SHARE = 0.35
SIBLING_PROBABILITY = 0.4  # a procedural design's second variant joins the batch (hard negative)
HUE_VARIANT_PROBABILITY = 0.1  # a hue-rotated copy joins as another picture (hard negative)
TEXTURED_SHARE = 0.1  # the evaluation's textured generator, with training-only seeds
VARIANT_SUFFIX = re.compile(r"[-_](d|l|dark|light|day|night|morning|evening|\d+x\d+)$")


@dataclass(frozen=True)
class Photo:
    name: str
    family: str
    image: np.ndarray


def coarse_family(family: str) -> str:
    return VARIANT_SUFFIX.sub("", family)


def _tune(name: str) -> bool:
    return stable_fraction(name, SPLIT_SEED) < TUNE_FRACTION


def is_tune_family(family: str) -> bool:
    return _tune(family) and _tune(coarse_family(family))


def is_holdout_family(family: str) -> bool:
    return stable_fraction("descriptor-holdout:" + coarse_family(family), 0) < HOLDOUT_FRACTION


@dataclass(frozen=True)
class PhotoSource:
    source: Source
    group: str  # the hard tier's design group (or the family): the unit of split and holdout
    tune: bool


def system_photo_sources() -> list[PhotoSource]:
    """System wallpapers and photos (SVGs skipped). The hard tier splits by design group, taking
    the base tier's split of any member, else the group's own draw: a file is tune only when
    its group's draw and every member's family (base tier name and merged name) are tune, so it
    is tune under either tier however the tiers resolve the group."""
    paths = [
        path
        for path in iter_system_images(PHOTO_ROOTS, PHOTO_SUFFIXES)
        if path.suffix.lower() != ".svg"
    ]
    members: dict[str, list[Path]] = {}
    for path in paths:
        members.setdefault(design_group(path), []).append(path)
    sources = []
    for path in paths:
        group = design_group(path)
        tune = _tune(group) and all(
            is_tune_family(f"sys-{family_of(member.name)}") for member in members[group]
        )
        name = "sys-" + "-".join(path.parts[-3:])
        source = Source(name, f"sys-{family_of(path.name)}", partial(_read_rgb, path))
        sources.append(PhotoSource(source, group, tune))
    return sources


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot decode {path}")
    if image.ndim == 3 and image.shape[2] == 4:
        return to_rgb(cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA))
    if image.ndim == 2:
        return to_rgb(image)
    return np.ascontiguousarray(image[..., 2::-1])


def permitted_sources() -> list[PhotoSource]:
    samples = [
        PhotoSource(source, source.family, is_tune_family(source.family))
        for source in skimage_sources() + sklearn_sources()
    ]
    return samples + system_photo_sources()


def shrink(image: np.ndarray, max_side: int = PHOTO_MAX_SIDE) -> np.ndarray:
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def load_photos(*, holdout: bool, max_side: int = PHOTO_MAX_SIDE) -> list[Photo]:
    """Tune photos, one per design group: the training share, or (holdout=True) the held-out
    share. Tiny or undecodable files are skipped."""
    photos: list[Photo] = []
    seen: set[str] = set()
    for candidate in permitted_sources():
        group = coarse_family(candidate.group)
        if group in seen or not candidate.tune or is_holdout_family(group) != holdout:
            continue
        try:
            image = candidate.source.load()
        except (ValueError, OSError):
            continue
        if min(image.shape[:2]) < PHOTO_MIN_SIDE:
            continue
        seen.add(group)
        photos.append(Photo(candidate.source.name, group, shrink(image, max_side)))
    return photos


def hue_rotated(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    shift = int(rng.integers(30, 150))  # OpenCV hue is 0..179
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def procedural_instance(rng: np.random.Generator) -> list[np.ndarray]:
    """One procedural picture, sometimes with its hard negatives (sibling, hue variant)."""
    design = int(rng.integers(*TRAIN_DESIGN_SEEDS))
    if rng.random() < TEXTURED_SHARE:
        return [generated_image(design, PROCEDURAL_SIZE)]
    kind = KINDS[int(rng.integers(len(KINDS)))]
    pictures = [procedural_image(kind, design, 0, PROCEDURAL_SIZE)]
    if rng.random() < SIBLING_PROBABILITY:
        pictures.append(procedural_image(kind, design, 1 + int(rng.integers(8)), PROCEDURAL_SIZE))
    if rng.random() < HUE_VARIANT_PROBABILITY:
        pictures.append(hue_rotated(pictures[0], rng))
    return pictures


def batch_images(photos: list[Photo], batch_size: int, seed: int, step: int) -> list[np.ndarray]:
    """The `batch_size` distinct pictures of one step: a share of distinct photos, the rest
    procedural. Depends only on (seed, step), so a resumed run sees the same batches."""
    rng = np.random.default_rng([seed, step])
    photo_count = min(len(photos), round(batch_size * PHOTO_SHARE))
    chosen: np.ndarray | list[int] = (
        rng.choice(len(photos), photo_count, replace=False) if photo_count else []
    )
    pictures = [photos[int(i)].image for i in chosen]
    while len(pictures) < batch_size:
        pictures.extend(procedural_instance(rng))
    return pictures[:batch_size]


def batch_views(
    photos: list[Photo], batch_size: int, seed: int, step: int, size: int
) -> np.ndarray:
    """(2 * batch_size, size, size, 3) uint8: view A of every picture, then view B."""
    pictures = batch_images(photos, batch_size, seed, step)
    rng = np.random.default_rng([seed, step, 1])
    first = [augmented_view(picture, rng, size) for picture in pictures]
    second = [augmented_view(picture, rng, size) for picture in pictures]
    return np.stack(first + second)
