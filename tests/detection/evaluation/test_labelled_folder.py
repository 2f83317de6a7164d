"""The labelled folder's layout checks: each bad input is one clear error naming what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.evaluation.labelled_folder import (
    MIN_IMAGES_PER_CLASS,
    FolderError,
    read_labelled_folder,
)
from tests.detection.evaluation.folder_factory import labelled_folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return labelled_folder(tmp_path / "set", count=12)


def test_reads_both_classes_with_masks_on_the_image_grid(folder: Path) -> None:
    items = read_labelled_folder(folder)
    labels = [item.label for item in items]
    assert labels == sorted(labels) and set(labels) == {0, 1}
    for item in items:
        image, mask = item.load()
        assert image.dtype == np.uint8 and image.shape[2] == 3
        if item.label:
            assert mask is not None and mask.shape == image.shape[:2] and mask.any()
        else:
            assert mask is None


def test_missing_class_folder(folder: Path) -> None:
    shutil.rmtree(folder / "fake")
    with pytest.raises(FolderError, match=r"lacks the folder\(s\) fake/"):
        read_labelled_folder(folder)


def test_missing_data_folder(tmp_path: Path) -> None:
    with pytest.raises(FolderError, match="data folder not found"):
        read_labelled_folder(tmp_path / "absent")


def test_no_images(tmp_path: Path) -> None:
    for name in ("real", "fake"):
        (tmp_path / name).mkdir()
    (tmp_path / "real" / "notes.txt").write_text("not an image")
    with pytest.raises(FolderError, match="no images"):
        read_labelled_folder(tmp_path)


def test_one_class_only(folder: Path) -> None:
    for path in (folder / "fake").iterdir():
        path.unlink()
    shutil.rmtree(folder / "masks")
    with pytest.raises(
        FolderError, match=f"has 0 images; both classes need at least {MIN_IMAGES_PER_CLASS}"
    ):
        read_labelled_folder(folder)


def test_unreadable_image_names_the_file(folder: Path) -> None:
    broken = folder / "real" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    item = next(i for i in read_labelled_folder(folder) if i.name == str(broken))
    with pytest.raises(FolderError, match=r"broken\.jpg"):
        item.load()


def test_mask_of_another_size(folder: Path) -> None:
    mask_path = next((folder / "masks").iterdir())
    cv2.imwrite(str(mask_path), np.zeros((10, 12), np.uint8))
    item = next(i for i in read_labelled_folder(folder) if Path(i.name).stem == mask_path.stem)
    with pytest.raises(FolderError, match=r"is 12x10, its image is 96x96"):
        item.load()


def test_mask_without_its_fake_image(folder: Path) -> None:
    cv2.imwrite(str(folder / "masks" / "stray.png"), np.zeros((96, 96), np.uint8))
    with pytest.raises(FolderError, match=r"stray\.png has no fake image"):
        read_labelled_folder(folder)


def test_a_huge_file_is_refused_before_it_is_read(folder: Path, tmp_path: Path) -> None:
    """A file (here a symlink to one) over the upload byte cap is refused by its size."""
    outside = tmp_path / "outside.png"
    with outside.open("wb") as handle:
        handle.truncate(26 * 1024 * 1024)
    (folder / "real" / "big.png").symlink_to(outside)
    item = next(i for i in read_labelled_folder(folder) if i.name.endswith("big.png"))
    with pytest.raises(FolderError, match="upload limit"):
        item.load()
