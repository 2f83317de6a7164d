"""Fact-check context for a report: published cases that hold a matched original as evidence,
and published fact-checks whose claims mean the same as the caption or the text in the image.

Both are reads through factcheck.cases.selectors, called by the pipeline after matching. Only
published cases are ever put in a report: the report is served to API clients, and a case under
investigation is not theirs to see.
"""

from __future__ import annotations

import logging
from typing import Any

from factcheck.cases import selectors as case_selectors
from factcheck.cases.claims import ClaimModelMissing
from moderation.report_document import reference_id_of

# How many related fact-checks a report lists, and the cosine similarity (normalised sentence
# embeddings) a claim needs to count as related: paraphrases of one claim score well above it,
# near-miss claims of other cases mostly below (factcheck/cases/eval/paraphrased_claims.json:
# every paraphrase there scores above it).
RELATED_FACT_CHECKS = 3
MIN_RELATED_SCORE = 0.5
# What a related fact-check's claim was found from (its "matched_on"): the caption sent with the
# picture, or the text read in the picture itself (a meme, a screenshot).
MATCHED_ON_CAPTION = "caption"
MATCHED_ON_TEXT_IN_IMAGE = "text_in_image"

logger = logging.getLogger(__name__)


def matches_with_fact_checks(
    matches: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(copies of `matches`, each with "fact_checks": the published cases holding its reference
    as evidence, newest first; every such case once, those of the best match first)."""
    reference_ids = [reference_id_of(match) for match in matches]
    links = case_selectors.cases_for_reference_ids(
        [reference_id for reference_id in reference_ids if reference_id is not None]
    )
    linked, ordered, seen = [], [], set()
    for match, reference_id in zip(matches, reference_ids, strict=True):
        holding = [link for link in links if reference_id in link["reference_ids"]]
        linked.append({**match, "fact_checks": holding})
        # The best match's cases come first: the verdict's reason names the first one.
        ordered += [link for link in holding if link["case_id"] not in seen]
        seen |= {link["case_id"] for link in holding}
    return linked, ordered


def related_fact_checks(text: str, *, matched_on: str = MATCHED_ON_CAPTION) -> list[dict[str, Any]]:
    """Published fact-checks whose claims mean the same as `text`, best first, each saying what
    `text` was (`matched_on`).

    Loads the sentence model on the first call in a process (seconds), so it belongs in the
    analysis task, never in a page request. A missing model leaves the list empty (logged): the
    image analysis does not depend on it.
    """
    if not text.strip():
        return []
    try:
        found = case_selectors.related_factchecks(text, k=RELATED_FACT_CHECKS, published_only=True)
    except ClaimModelMissing as error:
        logger.warning("related fact-checks skipped: %s", error)
        return []
    return [
        {**entry, "score": round(float(entry["score"]), 4), "matched_on": matched_on}
        for entry in found
        if float(entry["score"]) >= MIN_RELATED_SCORE
    ]


def related_merged(*found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Related fact-checks found from several texts (the caption, the text in the image) as one
    list: each case once (its best-scoring entry), best first, at most RELATED_FACT_CHECKS."""
    best: dict[Any, dict[str, Any]] = {}
    for entry in (entry for entries in found for entry in entries):
        kept = best.get(entry["case_id"])
        if kept is None or entry["score"] > kept["score"]:
            best[entry["case_id"]] = entry
    ranked = sorted(best.values(), key=lambda entry: entry["score"], reverse=True)
    return ranked[:RELATED_FACT_CHECKS]
