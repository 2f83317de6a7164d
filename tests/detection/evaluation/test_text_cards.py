"""Generated text cards: lines wrapped to fit the card, drawn where the reader expects them."""

from __future__ import annotations

import numpy as np

from detection.evaluation.text_cards import available_fonts, text_card, wrapped


def test_long_lines_wrap_at_spaces_and_a_long_word_stays_whole() -> None:
    measure = len  # one unit per character
    assert wrapped(["aa bb cc", "dd"], measure, 5) == ["aa bb", "cc", "dd"]
    assert wrapped(["abcdefgh ij"], measure, 5) == ["abcdefgh", "ij"]
    assert wrapped(["  ", ""], measure, 5) == []


def test_a_card_holds_every_word_inside_its_width() -> None:
    card = text_card(["word " * 40], font=available_fonts()[0], size=40, width=640, height=480)
    assert card.image.shape == (480, 640, 3) and card.image.dtype == np.uint8
    assert len(card.lines) > 1 and " ".join(card.lines).split() == ["word"] * 40
    dark = np.nonzero(card.image.min(axis=2) < 128)[1]
    assert dark.min() >= 640 // 16 - 2 and dark.max() <= 640 - 640 // 16 + 2
