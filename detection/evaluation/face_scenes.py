"""Scenes with faces at known places, for measuring face finders (scripts/bench_face_finders.py).

- the permitted photo with a face: scikit-image's astronaut, its face boxed by hand, at its own
  512 px and at 1024 px;
- photos without faces (scikit-image samples, MATE's nature wallpapers when installed): every
  box found there is a false positive;
- generated scenes: faces composed onto those photos at several sizes and in-plane rotations,
  with known boxes. The faces are scikit-image's LFW subset (100 different people, 25 px grey
  crops from forehead to chin, so they are upscaled and blurry: a hard case) and the
  astronaut's face (sharp, colour).

A rotated face keeps its box's size and centre: finders report upright boxes of about the face's
size, not the bounding box of the rotated square.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from skimage import data

Box = tuple[int, int, int, int]

# Eileen Collins' face in the 512 px astronaut sample (forehead to chin, cheek to cheek), boxed
# by hand on a 3x enlargement.
ASTRONAUT_FACE: Box = (180, 65, 90, 113)
LFW_FACES = 100  # data.lfw_subset(): the first 100 crops are faces, the last 100 are not
NATURE_DIR = Path("/usr/share/backgrounds/mate/nature")
# Wallpapers checked by eye to hold no human face (and no face-like drawing).
NATURE_PHOTOS = ("Aqua.jpg", "Dune.jpg", "GreenMeadow.jpg", "LadyBird.jpg", "Storm.jpg", "Wood.jpg")
# Not "coins": its Greek coins bear heads in profile.
SAMPLE_PHOTOS = ("coffee", "chelsea", "rocket", "immunohistochemistry")
SCENE_SIZE = (1024, 768)  # width, height of generated scenes
# Face box side in generated scenes, pixels; the largest still fits a face and its rotated patch
# in one third of the scene's width.
FACE_SIDES = (32, 48, 64, 96, 128, 160)
ROTATIONS = (-20.0, 0.0, 20.0)  # in-plane, degrees
FACES_PER_SCENE = 3
# Pasted faces fade into the background over this fraction of their side (no hard square edge).
FEATHER = 0.12


@dataclass
class Scene:
    name: str
    image: np.ndarray  # RGB uint8
    faces: list[Box] = field(default_factory=list)  # ground truth, x, y, w, h


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resized to cover `size` (width, height) and centre-cropped to it."""
    width, height = size
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(
        image,
        (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale))),
    )
    y0, x0 = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def backgrounds() -> list[tuple[str, np.ndarray]]:
    """Photos without faces (named), RGB uint8 at SCENE_SIZE."""
    photos: list[tuple[str, np.ndarray]] = []
    for name in SAMPLE_PHOTOS:
        image = getattr(data, name)()
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        photos.append((name, _fit(image, SCENE_SIZE)))
    for name in NATURE_PHOTOS:
        bgr = cv2.imread(str(NATURE_DIR / name))
        if bgr is not None:
            photos.append((Path(name).stem, _fit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), SCENE_SIZE)))
    return photos


def face_sources() -> list[tuple[np.ndarray, Box]]:
    """(RGB patch, face box inside the patch): the LFW faces and the astronaut's face with the
    hair and background around it."""
    sources = []
    for crop in data.lfw_subset()[:LFW_FACES]:
        grey = np.rint(crop * 255).astype(np.uint8)
        sources.append((cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), (0, 0, 25, 25)))
    x, y, w, h = ASTRONAUT_FACE
    margin = w // 3
    astronaut = data.astronaut()[y - margin // 2 : y + h + margin // 2, x - margin : x + w + margin]
    sources.append((np.ascontiguousarray(astronaut), (margin, margin // 2, w, h)))
    return sources


def _feather_mask(height: int, width: int) -> np.ndarray:
    ramp_y = np.minimum(np.arange(height), np.arange(height)[::-1]) / max(1.0, FEATHER * height)
    ramp_x = np.minimum(np.arange(width), np.arange(width)[::-1]) / max(1.0, FEATHER * width)
    return np.clip(np.minimum.outer(ramp_y, ramp_x), 0.0, 1.0).astype(np.float32)


def _paste(
    canvas: np.ndarray, patch: np.ndarray, centre: tuple[float, float], angle: float
) -> None:
    """Blend `patch` into `canvas` centred at `centre`, rotated by `angle` degrees."""
    height, width = canvas.shape[:2]
    matrix = cv2.getRotationMatrix2D((patch.shape[1] / 2, patch.shape[0] / 2), angle, 1.0)
    matrix[:, 2] += (centre[0] - patch.shape[1] / 2, centre[1] - patch.shape[0] / 2)
    warped = cv2.warpAffine(patch, matrix, (width, height), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(_feather_mask(*patch.shape[:2]), matrix, (width, height))[..., None]
    canvas[:] = np.rint(canvas * (1 - alpha) + warped * alpha).astype(np.uint8)


def generated_scenes(count: int, seed: int = 0) -> Iterator[Scene]:
    """`count` scenes, FACES_PER_SCENE faces each, sizes and rotations cycling through
    FACE_SIDES and ROTATIONS, faces in separate cells of a 3-column grid (no overlaps)."""
    rng = np.random.default_rng(seed)
    photos, sources = backgrounds(), face_sources()
    width, height = SCENE_SIZE
    cell_width = width // FACES_PER_SCENE
    placed = 0
    for index in range(count):
        name, photo = photos[index % len(photos)]
        canvas = photo.copy()
        truth: list[Box] = []
        for column in range(FACES_PER_SCENE):
            side = FACE_SIDES[placed % len(FACE_SIDES)]
            angle = ROTATIONS[(placed // len(FACE_SIDES)) % len(ROTATIONS)]
            patch, (fx, fy, fw, fh) = sources[int(rng.integers(len(sources)))]
            scale = side / max(fw, fh)
            patch = cv2.resize(
                patch,
                (round(patch.shape[1] * scale), round(patch.shape[0] * scale)),
                interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA,
            )
            fx, fy, fw, fh = (round(v * scale) for v in (fx, fy, fw, fh))
            reach = int(np.hypot(*patch.shape[:2]) / 2) + 1  # the rotated patch stays inside
            cx = column * cell_width + float(rng.uniform(reach, max(reach + 1, cell_width - reach)))
            cy = float(rng.uniform(reach, max(reach + 1, height - reach)))
            # Where the face's centre lands once the patch (centred at cx, cy) is rotated.
            offset = np.array([fx + fw / 2 - patch.shape[1] / 2, fy + fh / 2 - patch.shape[0] / 2])
            turn = np.deg2rad(-angle)  # OpenCV's positive angle turns counter-clockwise on screen
            rotated = (
                np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]]) @ offset
            )
            _paste(canvas, patch, (cx, cy), angle)
            truth.append((round(cx + rotated[0] - fw / 2), round(cy + rotated[1] - fh / 2), fw, fh))
            placed += 1
        yield Scene(f"generated-{index:03d}-{name}", canvas, truth)


def photo_scenes() -> Iterator[Scene]:
    """The astronaut at 512 and 1024 px (one face) and the photos without faces."""
    astronaut = data.astronaut()
    yield Scene("astronaut-512", astronaut, [ASTRONAUT_FACE])
    x, y, w, h = ASTRONAUT_FACE
    enlarged = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    yield Scene("astronaut-1024", enlarged, [(2 * x, 2 * y, 2 * w, 2 * h)])
    for name, photo in backgrounds():
        yield Scene(name, photo, [])
