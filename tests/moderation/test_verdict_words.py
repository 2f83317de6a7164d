"""The verdict in plain words: contributions and the one-sentence why (moderation.verdict)."""

from __future__ import annotations

import math

import pytest

from moderation.verdict import (
    EDITED_COPY,
    LABELS,
    LIKELY_MANIPULATED,
    NEUTRAL_CONTRIBUTION,
    contribution_of,
    contribution_words,
    verdict_why,
)


@pytest.mark.parametrize(
    ("contribution", "words"),
    [
        (1.0, "strongly supports manipulation"),
        (0.6, "strongly supports manipulation"),
        (0.3, "supports manipulation"),
        (0.1, "slightly supports manipulation"),
        (0.0, NEUTRAL_CONTRIBUTION),
        (0.049, NEUTRAL_CONTRIBUTION),
        (-0.1, "slightly against manipulation"),
        (-0.3, "against manipulation"),
        (-1.0, "strongly against manipulation"),
        (math.nan, NEUTRAL_CONTRIBUTION),
    ],
)
def test_contribution_words(contribution: float, words: str) -> None:
    assert contribution_words(contribution) == words


def test_contribution_is_weight_times_evidence() -> None:
    assert contribution_of(weight=1.0, probability=0.77) == pytest.approx(0.54)
    assert contribution_of(weight=0.2, probability=0.39) == pytest.approx(-0.044)
    assert contribution_of(weight=0.5, probability=None) == pytest.approx(-0.5)
    assert contribution_of(weight=2.0, probability=1.5) == 1.0  # clamped


def test_every_label_has_a_plain_sentence_without_jargon() -> None:
    for label in LABELS:
        sentence = verdict_why(label, regions=2, outlined=True)
        assert sentence.endswith(".")
        assert "weight" not in sentence and "probability" not in sentence
        assert not any(character.isdigit() for character in sentence.replace("2 outlined", ""))
    assert "in 2 outlined regions." in verdict_why(EDITED_COPY, regions=2)
    assert "outlined" in verdict_why(LIKELY_MANIPULATED, outlined=True)
    assert "outlined" not in verdict_why(LIKELY_MANIPULATED, outlined=False)
    assert verdict_why("unknown-label") == ""
