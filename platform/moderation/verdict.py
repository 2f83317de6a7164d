"""Fusion of fact-check matches and detection into the report's verdict, and review priority.

Pure functions on plain data (no Django, no models), so the rules are unit-tested directly.

Verdict rules (DESIGN.md, "Report JSON"):
- A verified original is the strongest evidence. Its weight is
  `MATCH_WEIGHT_FLOOR + (1 - MATCH_WEIGHT_FLOOR) * geometric_confidence`, where geometric
  confidence = min(1, inliers / SIMILARITY_FULL_INLIERS); the detectors get the rest. The
  original's own evidence is 1.0 when content differs (`edited_copy`) and 0.0 when it does not
  (`unaltered_copy`), so the fused probability = w_match * evidence + (1 - w_match) * p_detector.
- Without an original, the calibrated detector probability decides alone (weight 1.0):
  `likely_manipulated` at or above LIKELY_MANIPULATED_THRESHOLD, else `no_evidence`.
- Without an original and with detectors unable to judge the image: `not_applicable`.
Every reason names its signal and its weight, most important first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# A match confirmed by dense alignment alone has no inliers, so it carries the floor weight. The
# geometric confidence is the matcher's own (the inliers at which a match counts as certain).
from factcheck.core.matcher import SIMILARITY_FULL_INLIERS, VERIFIED_BY_DENSE, VERIFIED_BY_TIME
from moderation.clock import clock

EDITED_COPY = "edited_copy"
UNALTERED_COPY = "unaltered_copy"
LIKELY_MANIPULATED = "likely_manipulated"
NO_EVIDENCE = "no_evidence"
NOT_APPLICABLE = "not_applicable"
LABELS = (EDITED_COPY, UNALTERED_COPY, LIKELY_MANIPULATED, NO_EVIDENCE, NOT_APPLICABLE)
# Each label in words, as people read it (the review UI, the annotated video's banner).
VERDICT_TEXT = {
    EDITED_COPY: "Edited copy of a known original",
    LIKELY_MANIPULATED: "Likely manipulated",
    UNALTERED_COPY: "Unaltered copy of a known original",
    NO_EVIDENCE: "No evidence of manipulation",
    NOT_APPLICABLE: "Cannot be judged",
}

# Why, in one plain sentence per label (the review item page's headline; `{where}` is filled in
# by `verdict_why`). No weights, scores or model names: those are details.
VERDICT_WHY = {
    EDITED_COPY: "A verified original of this picture exists, and this copy changes what it "
    "shows{where}.",
    UNALTERED_COPY: "A verified original of this picture exists, and this copy shows the same "
    "content: only its size, compression, crop or borders differ.",
    LIKELY_MANIPULATED: "No original was found, so the forensic detectors decide: they see "
    "signs of editing{where}.",
    NO_EVIDENCE: "No original was found, and the forensic detectors see no clear sign of editing.",
    NOT_APPLICABLE: "No original was found, and the detectors cannot judge this file.",
}
# How much one signal pushes towards "manipulated" (positive) or away from it (negative), in
# words: a contribution is the signal's weight times where its evidence sits between "surely
# not" (-1) and "surely" (+1). The first bound the absolute contribution reaches names it.
CONTRIBUTION_WORDS = (
    (0.6, "strongly"),
    (0.25, ""),
    (0.05, "slightly"),
)
NEUTRAL_CONTRIBUTION = "barely matters either way"

# Same cut as the shipped detector config (detection/models/multitask-v3.json, thresholds
# .likely_manipulated): the probability is calibrated, so 0.5 means "as likely as not".
LIKELY_MANIPULATED_THRESHOLD = 0.5
# A verified match is decisive: even a barely verified one outweighs the detectors 4:1.
MATCH_WEIGHT_FLOOR = 0.8
MAX_REASONS = 8
MAX_REGIONS_NAMED = 3


@dataclass(frozen=True)
class DetectionSignal:
    """What the verdict needs from detection.selectors.DetectionOutcome."""

    applicable: bool
    probability: float | None
    reasons: list[str] = field(default_factory=list)
    not_applicable_reason: str | None = None


@dataclass(frozen=True)
class Verdict:
    label: str
    manipulation_probability: float
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "manipulation_probability": self.manipulation_probability,
            "reasons": list(self.reasons),
        }


def match_weight(inliers: int) -> float:
    confidence = min(1.0, max(0, inliers) / SIMILARITY_FULL_INLIERS)
    return MATCH_WEIGHT_FLOOR + (1.0 - MATCH_WEIGHT_FLOOR) * confidence


def contribution_of(*, weight: float, probability: float | None) -> float:
    """A signal's push on the verdict in [-1, 1]: its weight times (2p - 1)."""
    return max(0.0, min(1.0, weight)) * (2.0 * _clamp(probability) - 1.0)


def contribution_words(contribution: float) -> str:
    """ "strongly supports manipulation", "slightly against manipulation", ... for a contribution
    in [-1, 1] (`contribution_of`)."""
    size = abs(contribution) if math.isfinite(contribution) else 0.0
    for bound, adverb in CONTRIBUTION_WORDS:
        if size >= bound:
            direction = "supports" if contribution > 0 else "against"
            return f"{adverb} {direction} manipulation".strip()
    return NEUTRAL_CONTRIBUTION


def verdict_why(label: str, *, regions: int = 0, outlined: bool = False) -> str:
    """The plain sentence of why for a label: `regions` the edited regions outlined with it,
    `outlined` whether the forensic map's strongest areas are outlined. It holds no number:
    the verdict's probability is the page's one."""
    if label == EDITED_COPY and regions:
        where = f" in {regions} outlined region{'s' if regions != 1 else ''}"
    elif label == LIKELY_MANIPULATED and outlined:
        where = ", strongest in the outlined areas"
    else:
        where = ""
    return VERDICT_WHY.get(label, "").format(where=where)


def verdict_fuse(
    *,
    matches: list[dict[str, Any]],
    detection: DetectionSignal,
    fact_checks: list[dict[str, Any]] | None = None,
) -> Verdict:
    """The verdict for verified `matches` (best first, report items) and the detection signal.

    `fact_checks`: published cases holding a matched original as evidence (case links with
    "reference_ids"); they add a reason but no weight: the fact-checkers judged the original's
    story, while the label says what happened to this copy's pixels."""
    if matches:
        return _with_original(matches, detection, fact_checks or [])
    if not detection.applicable or detection.probability is None:
        why = detection.not_applicable_reason or "the detectors cannot judge this image"
        return Verdict(
            NOT_APPLICABLE,
            0.0,
            [
                f"Cannot be judged (detectors, weight 1.00): {why}.",
                "Fact-check retrieval (weight 0.00): no verified original found.",
            ],
        )
    probability = _clamp(detection.probability)
    label = LIKELY_MANIPULATED if probability >= LIKELY_MANIPULATED_THRESHOLD else NO_EVIDENCE
    reasons = _detector_reasons(detection, weight=1.0)
    reasons.append(
        "Fact-check retrieval (weight 0.00): no verified original found, so the detectors decide."
    )
    return Verdict(label, round(probability, 4), reasons[:MAX_REASONS])


def _with_original(
    matches: list[dict[str, Any]], detection: DetectionSignal, fact_checks: list[dict[str, Any]]
) -> Verdict:
    best = matches[0]
    usable_detector = detection.applicable and detection.probability is not None
    # A video's evidence is its frames that line up in time, counted like matching points.
    count = best.get("aligned_frames" if best.get("verified_by") == VERIFIED_BY_TIME else "inliers")
    weight = match_weight(int(count or 0)) if usable_detector else 1.0
    edited = bool(best.get("edited"))
    evidence = 1.0 if edited else 0.0
    detector_probability = _clamp(detection.probability) if usable_detector else 0.0
    probability = weight * evidence + (1.0 - weight) * detector_probability
    reasons = [_original_reason(best, weight)]
    if edited:
        reasons.append(_edit_reason(best, weight))
    else:
        reasons.append(
            f"No content change (fact-check difference map, weight {weight:.2f}): the copy differs "
            "from the original only by resizing, recompression, cropping or borders."
        )
    if fact_checks:
        reasons.append(_fact_check_reason(fact_checks))
    if len(matches) > 1:
        reasons.append(
            f"Also verified against {len(matches) - 1} other original"
            f"{'s' if len(matches) > 2 else ''} (fact-check retrieval, weight 0.00)."
        )
    if usable_detector:
        reasons += _detector_reasons(detection, weight=1.0 - weight)
    elif detection.not_applicable_reason:
        reasons.append(f"Detectors (weight 0.00): {detection.not_applicable_reason}.")
    return Verdict(
        EDITED_COPY if edited else UNALTERED_COPY, round(probability, 4), reasons[:MAX_REASONS]
    )


def _original_reason(match: dict[str, Any], weight: float) -> str:
    reference = match.get("reference") or {}
    name = reference.get("external_id") or f"reference {reference.get('id', '?')}"
    source = f" from {reference['source']}" if reference.get("source") else ""
    if match.get("verified_by") == VERIFIED_BY_DENSE and match.get("inliers"):
        how = (
            f"the whole picture aligns with it from {int(match['inliers'])} matching points "
            "in one part"
        )
    elif match.get("verified_by") == VERIFIED_BY_DENSE:
        how = "the whole picture aligns with it (too little texture for matching points)"
    elif match.get("verified_by") == VERIFIED_BY_TIME:
        offset = float(match.get("offset_s") or 0.0)
        how = (
            f"{int(match.get('aligned_frames', 0))} frames line up in time "
            f"(query 0:00.0 is the original's {clock(max(0.0, offset))})"
        )
    else:
        how = f"{int(match.get('inliers', 0))} matching points"
    mirrored = ", mirrored" if match.get("mirrored") else ""
    return (
        f"Verified original {name}{source} (fact-check retrieval, weight {weight:.2f}): "
        f"{how}{mirrored}, similarity {float(match.get('similarity', 0.0)):.2f}."
    )


def _fact_check_reason(fact_checks: list[dict[str, Any]]) -> str:
    first = fact_checks[0]
    rating = f"rated {first['rating']}" if first.get("rating") else "not rated"
    where = f" ({first['url']})" if first.get("url") else ""
    more = len(fact_checks) - 1
    extra = f"; {more} more published fact-check{'s' if more > 1 else ''} too" if more else ""
    return (
        f'A published fact-check, "{first.get("title", "")}"{where}, {rating}, covers the '
        f"original (fact-check cases, weight 0.00: context for the moderator){extra}."
    )


def _edit_reason(match: dict[str, Any], weight: float) -> str:
    regions = sorted(
        match.get("regions") or [], key=lambda r: r.get("area_fraction", 0.0), reverse=True
    )
    fraction = float(match.get("edited_fraction", 0.0))
    named = "; ".join(_region_phrase(region) for region in regions[:MAX_REGIONS_NAMED])
    more = len(regions) - MAX_REGIONS_NAMED
    extra = f"; and {more} more" if more > 0 else ""
    count = f"{len(regions)} region{'s' if len(regions) != 1 else ''}"
    spans = [s for s in match.get("segments") or [] if s.get("edited")]
    when = ""
    if spans:
        times = ", ".join(f"{clock(s['start_s'])}-{clock(s['end_s'])}" for s in spans[:3])
        when = f" during {times}{' and more' if len(spans) > 3 else ''}"
    return (
        f"Edited against the original (fact-check difference map, weight {weight:.2f}){when}: "
        f"{count} covering {fraction:.1%} of the image: {named or 'no single region'}{extra}."
    )


def _region_phrase(region: dict[str, Any]) -> str:
    x, y, w, h = (int(v) for v in region.get("bbox", (0, 0, 0, 0)))
    kind = region.get("kind", "altered")
    return f"{kind} at x={x}, y={y}, {w}x{h} px ({float(region.get('area_fraction', 0)):.1%})"


def _detector_reasons(detection: DetectionSignal, *, weight: float) -> list[str]:
    # detection's first reason already states the calibrated probability and its threshold.
    details = [f"Detectors (weight {weight:.2f}): {reason}" for reason in detection.reasons]
    if details:
        return details
    probability = _clamp(detection.probability)
    return [f"Detectors (weight {weight:.2f}): manipulation probability {probability:.2f}."]


def _clamp(value: float | None) -> float:
    if value is None or math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, float(value)))


# Review priority (higher is reviewed first), named and documented for the queue:
#   priority = LABEL_POINTS[label] + round(PROBABILITY_POINTS * probability)
#              + reach_points(reach) + SOURCE_POINTS[source]
# The label dominates (a proven edit outranks a suspicion), probability orders within a label,
# reach lifts widely seen posts, and a person's upload is someone asking for a look.
LABEL_POINTS = {
    EDITED_COPY: 400,
    LIKELY_MANIPULATED: 300,
    NOT_APPLICABLE: 150,
    NO_EVIDENCE: 100,
    UNALTERED_COPY: 0,
}
PROBABILITY_POINTS = 100
REACH_POINTS_PER_DECADE = 20
MAX_REACH_POINTS = 120
SOURCE_POINTS = {"upload": 50, "webhook": 0, "api": 0, "cli": 0}


def reach_points(reach: Any) -> int:
    """20 points per tenfold audience (10 -> 20, 1,000 -> 60), at most MAX_REACH_POINTS."""
    try:
        audience = float(reach)
    except (TypeError, ValueError):
        return 0
    except OverflowError:  # an integer too large for a float: more than anyone's reach
        return MAX_REACH_POINTS
    if not math.isfinite(audience) or audience <= 0:
        return 0
    return min(MAX_REACH_POINTS, round(REACH_POINTS_PER_DECADE * math.log10(1 + audience)))


def review_priority(
    *, label: str, probability: float, source: str, metadata: dict[str, Any] | None
) -> int:
    reach = (metadata or {}).get("reach")
    return (
        LABEL_POINTS.get(label, 0)
        + round(PROBABILITY_POINTS * _clamp(probability))
        + reach_points(reach)
        + SOURCE_POINTS.get(source, 0)
    )
