"""Fusion rules of the verdict and the review-priority formula (pure functions)."""

import pytest

from factcheck.core.matcher import VERIFIED_BY_DENSE
from moderation.verdict import (
    EDITED_COPY,
    LIKELY_MANIPULATED,
    LIKELY_MANIPULATED_THRESHOLD,
    MATCH_WEIGHT_FLOOR,
    MAX_REACH_POINTS,
    NO_EVIDENCE,
    NOT_APPLICABLE,
    UNALTERED_COPY,
    DetectionSignal,
    match_weight,
    reach_points,
    review_priority,
    verdict_fuse,
)

from .conftest import match_item

DETECTOR_SAYS_FAKE = DetectionSignal(True, 0.9, ["likely manipulated: calibrated 0.90"])
DETECTOR_SAYS_REAL = DetectionSignal(True, 0.1, ["no clear sign of manipulation"])
BLANK = DetectionSignal(False, None, ["the image is blank"], "the image is blank")


def test_edited_original_is_decisive_even_against_the_detectors() -> None:
    verdict = verdict_fuse(
        matches=[match_item(edited=True, inliers=80)], detection=DETECTOR_SAYS_REAL
    )
    assert verdict.label == EDITED_COPY
    # weight 1.0 at >= 50 inliers: p = 1.0 * 1 + 0 * 0.1
    assert verdict.manipulation_probability == pytest.approx(1.0)
    assert verdict.reasons[0].startswith("Verified original orig-7 from agency")
    assert "weight 1.00" in verdict.reasons[0]
    assert "added at x=10, y=12, 20x16 px" in verdict.reasons[1]
    assert "Detectors (weight 0.00)" in verdict.reasons[2]


def test_unaltered_original_outweighs_a_detector_that_cries_fake() -> None:
    verdict = verdict_fuse(
        matches=[match_item(edited=False, inliers=10)], detection=DETECTOR_SAYS_FAKE
    )
    weight = MATCH_WEIGHT_FLOOR + (1 - MATCH_WEIGHT_FLOOR) * 10 / 50
    assert verdict.label == UNALTERED_COPY
    assert verdict.manipulation_probability == pytest.approx((1 - weight) * 0.9, abs=1e-4)
    assert "No content change" in verdict.reasons[1]
    assert f"weight {1 - weight:.2f}" in verdict.reasons[2]


def test_match_weight_grows_with_inliers_and_saturates() -> None:
    assert match_weight(0) == pytest.approx(MATCH_WEIGHT_FLOOR)
    assert match_weight(25) == pytest.approx(0.9)
    assert match_weight(50) == match_weight(500) == pytest.approx(1.0)


def test_without_an_original_the_detector_threshold_decides_at_the_boundary() -> None:
    at = DetectionSignal(True, LIKELY_MANIPULATED_THRESHOLD, ["at threshold"])
    below = DetectionSignal(True, LIKELY_MANIPULATED_THRESHOLD - 0.0001, ["below"])
    assert verdict_fuse(matches=[], detection=at).label == LIKELY_MANIPULATED
    assert verdict_fuse(matches=[], detection=below).label == NO_EVIDENCE
    fake = verdict_fuse(matches=[], detection=DETECTOR_SAYS_FAKE)
    assert fake.manipulation_probability == pytest.approx(0.9)
    assert fake.reasons[0] == "Detectors (weight 1.00): likely manipulated: calibrated 0.90"
    assert "no verified original" in fake.reasons[-1]


def test_no_original_and_no_judgement_is_not_applicable_with_the_reason() -> None:
    verdict = verdict_fuse(matches=[], detection=BLANK)
    assert verdict.label == NOT_APPLICABLE
    assert verdict.manipulation_probability == 0.0
    assert "the image is blank" in verdict.reasons[0]


def test_an_original_still_judges_an_image_the_detectors_cannot() -> None:
    verdict = verdict_fuse(matches=[match_item(edited=True, inliers=5)], detection=BLANK)
    assert verdict.label == EDITED_COPY
    assert verdict.manipulation_probability == 1.0  # weight 1 when detectors cannot speak
    assert any("Detectors (weight 0.00): the image is blank" in r for r in verdict.reasons)


def test_other_matches_are_mentioned_and_regions_are_summarised() -> None:
    regions = [
        {"bbox": [i, i, 5, 5], "area_fraction": 0.01 * (i + 1), "kind": "altered"} for i in range(5)
    ]
    verdict = verdict_fuse(
        matches=[match_item(regions=regions), match_item(reference_id=8)],
        detection=DETECTOR_SAYS_REAL,
    )
    edit_reason = verdict.reasons[1]
    assert "5 regions" in edit_reason and "and 2 more" in edit_reason
    assert edit_reason.index("x=4") < edit_reason.index("x=3")  # largest first
    assert "1 other original" in verdict.reasons[2]


def test_reach_points_per_decade_and_capped() -> None:
    assert reach_points(None) == reach_points("lots") == reach_points(-5) == 0
    assert reach_points(9) == 20
    assert reach_points(999) == 60
    assert reach_points(10**12) == MAX_REACH_POINTS
    # An integer too large for a float (metadata={"reach": 1e400 as digits}) wedged analyses.
    assert reach_points(10**400) == MAX_REACH_POINTS


def test_priority_orders_by_label_then_probability_then_reach_and_source() -> None:
    def priority(label: str, p: float, source: str = "api", reach: int | None = None) -> int:
        return review_priority(label=label, probability=p, source=source, metadata={"reach": reach})

    assert priority(EDITED_COPY, 0.8) > priority(LIKELY_MANIPULATED, 0.99)
    assert priority(LIKELY_MANIPULATED, 0.9) > priority(LIKELY_MANIPULATED, 0.6)
    assert priority(NO_EVIDENCE, 0.3, reach=100_000) > priority(NO_EVIDENCE, 0.3)
    assert priority(NO_EVIDENCE, 0.3, source="upload") == priority(NO_EVIDENCE, 0.3) + 50
    assert priority(UNALTERED_COPY, 0.0) == 0
    assert priority(EDITED_COPY, 1.0) == 500


def test_a_dense_mirrored_match_says_how_it_was_verified() -> None:
    """A low-texture repost confirmed by whole-picture alignment has no matching points: the
    reason must not claim "0 matching points", and a mirror is named."""
    match = {**match_item(edited=False, inliers=0), "verified_by": VERIFIED_BY_DENSE}
    match["mirrored"] = True
    verdict = verdict_fuse(matches=[match], detection=DETECTOR_SAYS_FAKE)
    assert verdict.label == UNALTERED_COPY
    assert "the whole picture aligns with it" in verdict.reasons[0]
    assert ", mirrored," in verdict.reasons[0] and "matching points," not in verdict.reasons[0]
    plain = verdict_fuse(matches=[match_item(edited=False, inliers=30)], detection=BLANK)
    assert "30 matching points, similarity" in plain.reasons[0]
    anchored = verdict_fuse(matches=[{**match, "inliers": 42}], detection=BLANK)
    assert "aligns with it from 42 matching points in one part" in anchored.reasons[0]
