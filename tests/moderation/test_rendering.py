import io

import numpy as np
from PIL import Image

from moderation import rendering


def test_edit_overlay_tints_and_outlines_only_the_edited_region() -> None:
    image = np.full((100, 120, 3), 128, np.uint8)
    mask = np.zeros((100, 120), np.uint8)
    mask[40:60, 50:80] = 255
    overlay = rendering.edit_overlay(image, mask)
    assert overlay.shape == image.shape and overlay.dtype == np.uint8
    assert tuple(overlay[50, 65]) != (128, 128, 128)  # tinted inside
    assert overlay[50, 65, 0] > overlay[50, 65, 1]  # red tint
    assert tuple(overlay[5, 5]) == (128, 128, 128)  # untouched outside
    assert tuple(overlay[40, 65]) == rendering.EDIT_COLOR  # outline on the border


def test_overlays_are_shrunk_to_the_display_cap_but_masks_are_not() -> None:
    side = rendering.MAX_OVERLAY_SIDE * 2
    image = np.zeros((side // 4, side, 3), np.uint8)
    heat = np.zeros(image.shape[:2], np.uint8)
    overlay = rendering.forensic_overlay(image, heat)
    assert overlay.shape == (side // 8, rendering.MAX_OVERLAY_SIDE, 3)


def test_heatmap_opacity_follows_the_map() -> None:
    image = np.full((10, 20, 3), 100, np.uint8)
    heat = np.zeros((10, 20), np.uint8)
    heat[:, 10:] = 255
    overlay = rendering.forensic_overlay(image, heat)
    assert tuple(overlay[5, 2]) == (100, 100, 100)
    assert tuple(overlay[5, 15]) != (100, 100, 100)


def test_faces_overlay_colours_by_probability_and_png_round_trips() -> None:
    image = np.zeros((80, 80, 3), np.uint8)
    faces = [
        {"bbox": [10, 10, 20, 20], "manipulation_probability": 1.0},
        {"bbox": [50, 50, 20, 20], "manipulation_probability": 0.0},
    ]
    overlay = rendering.faces_overlay(image, faces)
    assert overlay[20, 10, 0] == 255 and overlay[20, 10, 1] == 0  # red box: manipulated
    assert overlay[60, 50, 1] == 255 and overlay[60, 50, 0] == 0  # green box: real
    decoded = np.asarray(Image.open(io.BytesIO(rendering.png_encode(overlay))))
    assert np.array_equal(decoded, overlay)
