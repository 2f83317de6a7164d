import numpy as np
import pytest
from PIL import Image

from detection.core.imaging import (
    MIN_IMAGE_SIDE,
    UnsupportedImageError,
    check_applicable,
    to_rgb_uint8,
)


def _textured(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_tiny_image_is_not_applicable_below_the_minimum_side() -> None:
    assert check_applicable(_textured(MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)) is None
    reason = check_applicable(_textured(MIN_IMAGE_SIDE - 1, 500))
    assert reason is not None and str(MIN_IMAGE_SIDE) in reason.reason


def test_blank_and_near_constant_images_are_not_applicable() -> None:
    blank = np.full((200, 200, 3), 128, np.uint8)
    assert "blank" in check_applicable(blank).reason
    speckled = blank.copy()
    speckled[0, 0] = 0  # one odd pixel does not make content
    assert check_applicable(speckled) is not None


def test_grayscale_becomes_three_equal_channels() -> None:
    gray = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
    rgb = to_rgb_uint8(gray)
    assert (
        rgb.shape == (64, 64, 3) and (rgb[:, :, 0] == gray).all() and (rgb[:, :, 2] == gray).all()
    )


def test_alpha_is_composited_on_white() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2, :, 3] = 255  # opaque black top, transparent bottom
    rgb = to_rgb_uint8(rgba)
    assert (rgb[:2] == 0).all() and (rgb[2:] == 255).all()


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    deep = np.array([[0, 32768, 65535]], np.uint16)
    assert to_rgb_uint8(deep)[0, :, 0].tolist() == [0, 127, 255]
    pil_deep = Image.fromarray(np.full((8, 8), 65535, np.uint16))
    assert (to_rgb_uint8(pil_deep) == 255).all()


def test_palette_image_uses_its_palette() -> None:
    palette = Image.new("P", (8, 8))
    palette.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    rgb = to_rgb_uint8(palette)
    assert rgb.shape == (8, 8, 3) and rgb[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 5), np.uint8),
        np.zeros((4,), np.uint8),
        np.full((4, 4), np.nan),
        np.full((4, 4), 3.0),
        np.zeros((4, 4), np.complex64),
    ],
)
def test_unsupported_inputs_raise_a_clear_reason(bad: np.ndarray) -> None:
    with pytest.raises(UnsupportedImageError):
        to_rgb_uint8(bad)
