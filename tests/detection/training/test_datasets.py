import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detection.training.datasets import (
    decode_rle,
    encode_rle,
    face_mask,
    load_frame,
    read_faceforensics,
    read_openforensics,
)


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


@pytest.fixture
def faceforensics(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    mask = np.zeros((32, 48), np.uint8)
    mask[8:24, 10:30] = 255
    for index in range(2):
        name = f"{index:04d}.png"
        _write(tmp_path / "original_sequences/youtube/c23/frames/000" / name, frame)
        _write(tmp_path / "manipulated_sequences/Deepfakes/c23/frames/000_003" / name, frame)
        _write(tmp_path / "manipulated_sequences/Deepfakes/masks/frames/000_003" / name, mask)
    # A method without masks still yields labelled frames.
    _write(tmp_path / "manipulated_sequences/FaceSwap/c23/frames/001_004/0000.png", frame)
    return tmp_path


def test_faceforensics_reader_labels_frames_and_pairs_masks(faceforensics: Path) -> None:
    records = read_faceforensics(faceforensics)
    assert len(records) == 5
    real = [r for r in records if r.label == 0]
    deepfakes = [r for r in records if r.method == "Deepfakes"]
    faceswap = [r for r in records if r.method == "FaceSwap"]
    assert len(real) == 2 and all(r.method == "original" for r in real)
    assert len(deepfakes) == 2 and all(r.mask_path is not None for r in deepfakes)
    assert faceswap[0].mask_path is None
    image, mask = load_frame(deepfakes[0])
    assert image.shape == (32, 48, 3) and mask is not None and mask.sum() == 16 * 20
    real_mask = load_frame(real[0])[1]
    assert real_mask is not None and real_mask.sum() == 0
    assert load_frame(faceswap[0])[1] is None


def test_faceforensics_reader_rejects_wrong_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="original_sequences"):
        read_faceforensics(tmp_path)


def test_rle_round_trip_and_known_encoding() -> None:
    mask = np.zeros((5, 4), np.uint8)
    mask[1:3, 1:3] = 1
    mask[4, 3] = 1
    assert (decode_rle(encode_rle(mask)) == mask).all()
    # Uncompressed counts, column-major: 6 zeros, 2 ones, 3 zeros, 2 ones, 6 zeros, 1 one.
    assert (decode_rle({"size": [5, 4], "counts": [6, 2, 3, 2, 6, 1]}) == mask).all()


def test_openforensics_reader_with_polygons_and_rle(tmp_path: Path) -> None:
    rle_mask = np.zeros((40, 60), np.uint8)
    rle_mask[20:30, 40:50] = 1
    coco = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 60, "height": 40},
            {"id": 2, "file_name": "b.jpg", "width": 60, "height": 40},
        ],
        "categories": [{"id": 0, "name": "Real"}, {"id": 1, "name": "Fake"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [5, 5, 10, 10],
                "segmentation": [[5, 5, 15, 5, 15, 15, 5, 15]],
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 0,
                "bbox": [40, 20, 10, 10],
                "segmentation": encode_rle(rle_mask),
            },
            {
                "id": 3,
                "image_id": 2,
                "category_id": 0,
                "bbox": [1, 1, 5, 5],
                "segmentation": [[1, 1, 6, 1, 6, 6, 1, 6]],
            },
        ],
    }
    annotations = tmp_path / "Train_poly.json"
    annotations.write_text(json.dumps(coco))
    records = read_openforensics(annotations, tmp_path / "Train")
    assert [r.label for r in records] == [1, 0]
    assert records[0].path == tmp_path / "Train" / "a.jpg" and len(records[0].faces) == 2
    fake = face_mask(records[0])
    assert fake[10, 10] == 1 and fake[25, 45] == 0  # the real (RLE) face is not in the mask
    every_face = face_mask(records[0], fake_only=False)
    assert every_face[25, 45] == 1 and every_face.sum() == fake.sum() + 100
    assert face_mask(records[1]).sum() == 0


def test_openforensics_reader_reports_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json"):
        read_openforensics(broken, tmp_path)
