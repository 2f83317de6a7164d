"""A labelled folder of images a user brings (or `manage.py export_decisions` writes):

    DATA_DIR/real/*   authentic images
    DATA_DIR/fake/*   manipulated images
    DATA_DIR/masks/*  optional: a fake image's mask, named like it (same stem, any image suffix),
                      white = manipulated, on the image's pixel grid after EXIF orientation

Images are decoded exactly as uploads are (mediastore.images.decode_rgb: format allowlist, pixel
and byte caps, EXIF orientation), so a folder item is judged as the same file submitted would be.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import cv2
import numpy as np

from detection.training.synth import Sample
from detection.training.userdata import LabelledItem
from mediastore.images import MAX_UPLOAD_BYTES, decode_rgb

REAL_DIR, FAKE_DIR, MASKS_DIR = "real", "fake", "masks"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
# Masks are binarised at mid-grey: lossy copies of a 0/255 mask drift a little either way.
MASK_THRESHOLD = 127
# Calibration needs both classes in the fit part and in the held-out part.
MIN_IMAGES_PER_CLASS = 4


class FolderError(ValueError):
    """The folder or one of its files cannot be used; the message names it."""


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() in IMAGE_SUFFIXES
    )


def decode_file(path: Path) -> np.ndarray:
    """RGB uint8 image of one file, decoded as an upload; FolderError naming it otherwise."""
    try:
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise FolderError(f"{path} is larger than the {MAX_UPLOAD_BYTES} bytes upload limit")
        image, _ = decode_rgb(path.read_bytes())
    except FolderError:
        raise
    except (OSError, ValueError) as error:  # mediastore refusals are ValueErrors
        raise FolderError(f"cannot read image {path}: {error}") from None
    return image


def _read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise FolderError(f"cannot read mask {path}")
    if mask.shape != shape:
        raise FolderError(
            f"mask {path} is {mask.shape[1]}x{mask.shape[0]}, its image is {shape[1]}x{shape[0]}"
        )
    return (mask > MASK_THRESHOLD).astype(np.uint8)


def _load(path: Path, mask_path: Path | None) -> tuple[np.ndarray, np.ndarray | None]:
    image = decode_file(path)
    return image, None if mask_path is None else _read_mask(mask_path, image.shape[:2])


def read_labelled_folder(data_dir: Path | str) -> list[LabelledItem]:
    """The folder's items (real first, each sorted by name); FolderError when the layout is
    wrong: a missing class folder, no images, too few of a class, a mask without its image."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FolderError(f"data folder not found: {root}")
    missing = [name for name in (REAL_DIR, FAKE_DIR) if not (root / name).is_dir()]
    if missing:
        raise FolderError(f"{root} lacks the folder(s) {', '.join(missing)}/ (real/ and fake/)")
    real, fake = _images_in(root / REAL_DIR), _images_in(root / FAKE_DIR)
    if not real and not fake:
        raise FolderError(f"no images in {root / REAL_DIR} or {root / FAKE_DIR}")
    for name, found in ((REAL_DIR, real), (FAKE_DIR, fake)):
        if len(found) < MIN_IMAGES_PER_CLASS:
            raise FolderError(
                f"{root / name} has {len(found)} images; both classes need at least "
                f"{MIN_IMAGES_PER_CLASS}"
            )
    masks = _masks_by_stem(root / MASKS_DIR, {path.stem for path in fake})
    items = [LabelledItem(str(path), 0, partial(_load, path, None)) for path in real]
    items += [
        LabelledItem(str(path), 1, partial(_load, path, masks.get(path.stem))) for path in fake
    ]
    return items


def _masks_by_stem(folder: Path, fake_stems: set[str]) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    masks: dict[str, Path] = {}
    for path in _images_in(folder):
        if path.stem not in fake_stems:
            raise FolderError(f"mask {path} has no fake image named {path.stem}.* in fake/")
        if path.stem in masks:
            raise FolderError(f"two masks for {path.stem}: {masks[path.stem]} and {path}")
        masks[path.stem] = path
    return masks


def write_labelled_folder(samples: list[Sample], data_dir: Path | str) -> dict[str, int]:
    """Write generated samples in the layout above (PNG: lossless, so the folder holds exactly
    the pixels generated); fakes get their mask. Returns counts per class."""
    root = Path(data_dir)
    for name in (REAL_DIR, FAKE_DIR, MASKS_DIR):
        (root / name).mkdir(parents=True, exist_ok=True)
    counts = {REAL_DIR: 0, FAKE_DIR: 0}
    for index, sample in enumerate(samples):
        manipulated = bool(sample.mask.any())
        folder = FAKE_DIR if manipulated else REAL_DIR
        name = f"{index:05d}-{sample.kind}.png"
        cv2.imwrite(str(root / folder / name), sample.image[:, :, ::-1])
        if manipulated:
            cv2.imwrite(str(root / MASKS_DIR / name), sample.mask.astype(np.uint8) * 255)
        counts[folder] += 1
    return counts
