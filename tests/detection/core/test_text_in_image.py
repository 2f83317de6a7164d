"""Text in the image (detection.core.text_in_image): RapidOCR's lines filtered, bounded, boxed
on the image's own pixel grid; hostile inputs; and the bundled models reading generated cards."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from detection.core.text_in_image import (
    DETECT_SIDE,
    MAX_LINE_CHARACTERS,
    MAX_LINES,
    MAX_READ_SIDE,
    MAX_TEXT_CHARACTERS,
    MIN_LINE_CONFIDENCE,
    MIN_READ_SHORT_SIDE,
    TextLine,
    TwoScaleReader,
    ocr_engine,
    read_text,
)
from detection.evaluation.text_cards import available_fonts, available_photos, text_card

# A generous bound for one read on a shared 2-core machine: a wedged engine takes far longer.
READ_SECONDS_BOUND = 20


class FakeEngine:
    def __init__(self, found: Any) -> None:
        self.found = found
        self.seen: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> tuple[Any, Any]:
        self.seen = image
        return self.found, [0.0]


def quad(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def red(height: int = 100, width: int = 200) -> np.ndarray:
    picture = np.zeros((height, width, 3), dtype=np.uint8)
    picture[..., 0] = 255
    return picture


def test_lines_below_the_confidence_floor_are_dropped_and_boxes_are_upright() -> None:
    fake = FakeEngine(
        [
            [quad(10, 10, 50, 12), "Breaking   news", 0.95],
            [quad(10, 30, 50, 12), "blurry", MIN_LINE_CONFIDENCE - 0.01],
            [quad(10, 50, 50, 12), "kept at the floor", MIN_LINE_CONFIDENCE],
            [quad(10, 70, 50, 12), "nan", float("nan")],
            [quad(10, 90, 50, 12), "   ", 0.99],
            [[[5, 5], [40, 0], [45, 20], [10, 25]], "tilted", 0.9],
        ]
    )
    found = read_text(red(), engine=fake)
    assert [line.text for line in found.lines] == ["Breaking news", "kept at the floor", "tilted"]
    assert found.lines[0] == TextLine("Breaking news", (10, 10, 50, 12), 0.95)
    assert found.lines[2].bbox == (5, 0, 40, 25)  # the box around the tilted quadrilateral
    assert found.text == "Breaking news\nkept at the floor\ntilted"
    assert found.to_dict()["lines"][0] == {
        "text": "Breaking news",
        "bbox": [10, 10, 50, 12],
        "confidence": 0.95,
    }
    assert fake.seen is not None and fake.seen[0, 0].tolist() == [0, 0, 255]  # BGR for RapidOCR


def test_boxes_are_clipped_and_degenerate_ones_dropped() -> None:
    fake = FakeEngine(
        [
            [quad(-20, 90, 300, 40), "spills over", 0.9],
            [quad(250, 10, 20, 20), "outside", 0.9],
            [[[float("inf"), 1], [2, 2], [3, 3], [4, 4]], "infinite", 0.9],
            [[], "no corners", 0.9],
        ]
    )
    [line] = read_text(red(), engine=fake).lines
    assert line.bbox == (0, 90, 200, 10)


def test_the_number_of_lines_and_characters_is_bounded() -> None:
    many = [[quad(0, i, 10, 1), f"line {i}", 0.9] for i in range(MAX_LINES + 10)]
    assert len(read_text(red(), engine=FakeEngine(many)).lines) == MAX_LINES

    long_line = [[quad(0, 0, 10, 10), "x" * (MAX_LINE_CHARACTERS * 3), 0.9]]
    [line] = read_text(red(), engine=FakeEngine(long_line)).lines
    assert len(line.text) == MAX_LINE_CHARACTERS

    long_lines = [[quad(0, i, 10, 1), "y" * MAX_LINE_CHARACTERS, 0.9] for i in range(MAX_LINES)]
    found = read_text(red(), engine=FakeEngine(long_lines))
    assert len(found.text) <= MAX_TEXT_CHARACTERS
    assert len(found.text) >= MAX_TEXT_CHARACTERS - MAX_LINES  # filled up to the limit


def test_a_huge_image_is_read_downscaled_and_boxed_on_its_own_grid() -> None:
    huge = np.zeros((4000, 6000, 3), dtype=np.uint8)
    fake = FakeEngine([[quad(100, 50, 200, 20), "big", 0.9]])
    [line] = read_text(huge, engine=fake).lines
    assert fake.seen is not None and max(fake.seen.shape[:2]) == MAX_READ_SIDE
    scale = 6000 / MAX_READ_SIDE
    assert line.bbox == pytest.approx((100 * scale, 50 * scale, 200 * scale, 20 * scale), abs=5)


def test_a_sliver_is_padded_not_enlarged_and_keeps_its_coordinates() -> None:
    fake = FakeEngine([[quad(2, 1, 50, 9), "thin", 0.9]])
    [line] = read_text(red(12, 300), engine=fake).lines
    assert fake.seen is not None and fake.seen.shape == (MIN_READ_SHORT_SIDE, 300, 3)
    assert line.bbox == (2, 1, 50, 9)


@pytest.mark.parametrize(
    "picture",
    [
        np.zeros((100, 100), dtype=np.uint8),  # grey
        np.zeros((100, 100, 4), dtype=np.uint8),  # alpha
        np.zeros((100, 100, 3), dtype=np.float32),  # not 8-bit
        np.zeros((4, 500, 3), dtype=np.uint8),  # no line fits
        np.zeros((0, 0, 3), dtype=np.uint8),
    ],
)
def test_pictures_that_cannot_hold_text_are_not_read(picture: np.ndarray) -> None:
    fake = FakeEngine([[quad(0, 0, 1, 1), "never", 0.9]])
    assert read_text(picture, engine=fake).lines == ()
    assert fake.seen is None


def test_nothing_found_reads_as_no_text() -> None:
    assert read_text(red(), engine=FakeEngine(None)).to_dict() == {"text": "", "lines": []}


# The bundled models, on CPU.


def test_the_engine_is_built_once() -> None:
    assert ocr_engine() is ocr_engine()


def test_a_text_card_reads_as_its_words() -> None:
    font = available_fonts()[0]
    card = text_card(
        ["Vaccines contain tracking microchips", "says the viral post"], font=font, size=44
    )
    found = read_text(card.image)
    words = " ".join(found.text.lower().split())
    assert "vaccines contain tracking microchips" in words
    assert "says the viral post" in words
    first = found.lines[0]
    assert first.confidence >= MIN_LINE_CONFIDENCE
    x, y, w, h = first.bbox
    assert 1024 // 16 - 10 <= x <= 1024 // 16 + 10 and 768 // 8 - 10 <= y <= 768 // 8 + 20
    assert 30 <= h <= 90 and w > 500


def test_text_on_a_photo_reads_as_its_words() -> None:
    photos = available_photos()
    if not photos:
        pytest.skip("mate-backgrounds is not installed")
    card = text_card(
        ["THE BRIDGE COLLAPSED", "THIS MORNING"],
        font=available_fonts()[-1],
        size=64,
        colour=(255, 255, 255),
        background=photos[0],
    )
    # The recogniser may drop a wide space in capitals ("THEBRIDGE"): compare the letters.
    letters = "".join(read_text(card.image).text.lower().split())
    assert "thebridgecollapsed" in letters and "thismorning" in letters


@pytest.mark.parametrize(
    "shape",
    [(1500, 2500, 3), (30, 1280, 3), (2000, 9, 3)],
    ids=["noise", "banner", "sliver"],
)
def test_hostile_pictures_do_not_wedge_the_reader(shape: tuple[int, int, int]) -> None:
    noise = np.random.default_rng(3).integers(0, 256, size=shape, dtype=np.uint8)
    began = time.perf_counter()
    found = read_text(noise)
    assert time.perf_counter() - began < READ_SECONDS_BOUND
    assert len(found.lines) <= MAX_LINES
    assert all(line.confidence >= MIN_LINE_CONFIDENCE for line in found.lines)


class FakeRapidOcr:
    """RapidOCR's parts as TwoScaleReader calls them: one box found on the detection copy."""

    def __init__(self) -> None:
        self.detected_on: tuple[int, ...] = ()
        self.crops: list[np.ndarray] = []

    def text_det(self, image: np.ndarray) -> tuple[Any, float]:
        self.detected_on = image.shape
        return np.array([quad(10, 20, 100, 10)], dtype=np.float32), 0.0

    @staticmethod
    def sorted_boxes(boxes: Any) -> list[Any]:
        return list(boxes)

    def get_crop_img_list(self, image: np.ndarray, boxes: list[np.ndarray]) -> list[np.ndarray]:
        self.crops = [
            image[int(b[0][1]) : int(b[2][1]), int(b[0][0]) : int(b[2][0])] for b in boxes
        ]
        return self.crops

    @staticmethod
    def text_cls(crops: list[np.ndarray]) -> tuple[list[np.ndarray], Any, float]:
        return crops, None, 0.0

    @staticmethod
    def text_rec(crops: list[np.ndarray], word_boxes: bool) -> tuple[list[Any], float]:
        return [("read", 0.9) for _ in crops], 0.0


def test_text_is_found_on_a_small_copy_and_read_at_full_resolution() -> None:
    parts = FakeRapidOcr()
    found = read_text(np.zeros((960, 1280, 3), np.uint8), engine=TwoScaleReader(parts))
    assert max(parts.detected_on[:2]) == DETECT_SIDE
    scale = 1280 / DETECT_SIDE
    [line] = found.lines
    assert line.bbox == (
        round(10 * scale),
        round(20 * scale),
        round(100 * scale),
        round(10 * scale),
    )
    assert parts.crops[0].shape[:2] == (round(10 * scale), round(100 * scale))  # full resolution
