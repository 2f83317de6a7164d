import io

import numpy as np
import pytest
from PIL import Image

from detection.core.imaging import (
    MAX_ASPECT_RATIO,
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
    reason = check_applicable(blank)
    assert reason is not None and "blank" in reason.reason
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


def test_cmyk_is_converted_to_rgb() -> None:
    cyan = Image.new("CMYK", (8, 8), (255, 0, 0, 0))
    assert to_rgb_uint8(cyan)[0, 0].tolist() == [0, 255, 255]


@pytest.mark.parametrize("mode", ["LA", "PA", "RGBA"])
def test_pil_alpha_modes_are_composited_on_white(mode: str) -> None:
    picture = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    if mode == "LA":
        picture = picture.convert("LA")
    elif mode == "PA":
        picture = Image.new("PA", (8, 8), (0, 0))
        picture.putpalette([0, 0, 0] * 256)
    assert picture.mode == mode
    assert (to_rgb_uint8(picture) == 255).all()  # fully transparent reads as white


def test_palette_transparency_is_composited_on_white() -> None:
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0, 0, 0] * 254)
    palette.info["transparency"] = 1
    assert (to_rgb_uint8(palette) == 255).all()


def test_exif_orientation_is_applied_to_pil_images() -> None:
    wide = np.zeros((40, 100, 3), np.uint8)
    wide[:, :10] = 255  # a white bar on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, "PNG", exif=exif)
    upright = to_rgb_uint8(Image.open(io.BytesIO(buffer.getvalue())))
    assert upright.shape == (100, 40, 3)
    assert upright[:10].mean() > 200 and upright[-10:].mean() < 50  # the bar is now on top


def test_thirty_two_bit_integer_images_are_clipped_not_wrapped() -> None:
    deep = Image.fromarray(np.array([[-5, 70000, 65535, 0]], np.int32), mode="I")
    assert to_rgb_uint8(deep)[0, :, 0].tolist() == [0, 255, 255, 0]


def test_float_pil_images_are_refused_with_the_mode() -> None:
    with pytest.raises(UnsupportedImageError, match="'F'"):
        to_rgb_uint8(Image.new("F", (8, 8)))


def test_thin_strips_are_not_applicable_past_the_aspect_ratio() -> None:
    side = MIN_IMAGE_SIDE
    assert check_applicable(_textured(side, int(side * MAX_ASPECT_RATIO))) is None
    reason = check_applicable(_textured(side, int(side * MAX_ASPECT_RATIO) + 1))
    assert reason is not None and "aspect ratio" in reason.reason
    assert check_applicable(_textured(int(side * MAX_ASPECT_RATIO) + 1, side)) is not None
