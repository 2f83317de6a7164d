"""Fact-check context in reports: published cases on a matched original, related fact-checks by
caption, the verdict reason, and the item page showing both.

The engines are faked (tests/moderation/conftest.py) and so is the sentence model where the
embedding is not under test: a bag-of-words embedder behind the real claim index and selectors.
The real model and a real match are in tests/factcheck/cases/test_report_links.py.
"""

from __future__ import annotations

import io
import re
import zlib

import numpy as np
import pytest
from django.test import Client
from PIL import Image
from skimage import data as samples

from factcheck.cases import selectors as case_selectors
from factcheck.cases.claims import ClaimModelMissing
from factcheck.cases.curation import evidence_add, evidence_mark_verified_original
from factcheck.cases.services import (
    ClaimInput,
    case_create,
    case_publish,
    case_rate,
    case_transition,
)
from moderation import fact_checks
from moderation.fact_checks import MIN_RELATED_SCORE, RELATED_FACT_CHECKS
from moderation.models import Report
from moderation.pipeline import image_analyze
from moderation.verdict import DetectionSignal, verdict_fuse
from tests.moderation.review_factory import review_item_create

from .conftest import match_item

pytestmark = pytest.mark.django_db

WORDS = re.compile(r"[a-z]+")


class BagOfWordsEmbedder:
    """Stands in for the sentence model: shared words make texts similar."""

    name = "test-bag-of-words"
    dim = 256

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORDS.findall(text.lower()):
                vectors[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


@pytest.fixture
def bag_of_words(monkeypatch: pytest.MonkeyPatch) -> BagOfWordsEmbedder:
    embedder = BagOfWordsEmbedder()
    monkeypatch.setattr(case_selectors, "configured_claim_embedder", lambda: embedder)
    return embedder


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _case(personas, *, title: str, claim: str, publish: bool, original: bool = False):
    """A case with one claim; optionally a verified original as evidence; optionally published.
    Returns (case, reference or None)."""
    actor = personas["fact_checker"]
    case = case_create(title=title, actor=actor, claims=[ClaimInput(text=claim)])
    reference = None
    if original:
        evidence = evidence_add(
            case=case, actor=actor, kind="media", content=_png(samples.coffee()[::4, ::4])
        )
        reference = evidence_mark_verified_original(evidence=evidence, actor=actor, source="AFP")
    if publish:
        case_transition(case=case, actor=actor, to_status="investigating")
        case_rate(case=case, actor=actor, rating="altered", explanation="Pasted in.")
        case_publish(case=case, actor=actor)
        case.refresh_from_db()
    return case, reference


def _photo() -> bytes:
    rng = np.random.default_rng(5)
    return _png(rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8))


def test_a_match_on_a_published_cases_original_links_the_case(engines, personas) -> None:
    case, reference = _case(
        personas, title="Coffee cup", claim="A cup", publish=True, original=True
    )
    engines.matches = [match_item(reference_id=999_999), match_item(reference_id=reference.pk)]
    document = image_analyze(content=_photo(), input_name="x.png").document
    [link] = document["fact_checks"]
    assert link["case_id"] == case.pk and link["reference_ids"] == [reference.pk]
    assert link["url"] == f"/factchecks/{case.slug}/"
    assert link["claimreview_url"] == f"/api/v1/cases/{case.pk}/claimreview/"
    assert [len(match["fact_checks"]) for match in document["matches"]] == [0, 1]
    assert document["matches"][1]["fact_checks"][0]["case_id"] == case.pk
    reasons = document["verdict"]["reasons"]
    assert reasons[2].startswith('A published fact-check, "Coffee cup"')
    assert "rated altered, covers the original" in reasons[2] and "weight 0.00" in reasons[2]


def test_an_unpublished_case_is_not_linked(engines, personas) -> None:
    _, reference = _case(personas, title="Draft", claim="A cup", publish=False, original=True)
    engines.matches = [match_item(reference_id=reference.pk)]
    document = image_analyze(content=_photo(), input_name="x.png").document
    assert document["fact_checks"] == [] and document["matches"][0]["fact_checks"] == []
    assert not any("fact-check," in reason for reason in document["verdict"]["reasons"])


def test_the_fact_check_reason_adds_no_weight() -> None:
    detection = DetectionSignal(applicable=True, probability=0.3, reasons=["fake 0.30"])
    link = {"case_id": 1, "title": "T", "rating": "false", "url": "/factchecks/t/"}
    plain = verdict_fuse(matches=[match_item()], detection=detection)
    linked = verdict_fuse(matches=[match_item()], detection=detection, fact_checks=[link, link])
    assert linked.manipulation_probability == plain.manipulation_probability
    assert linked.label == plain.label
    assert linked.reasons[2] == (
        'A published fact-check, "T" (/factchecks/t/), rated false, covers the original '
        "(fact-check cases, weight 0.00: context for the moderator); 1 more published "
        "fact-check too."
    )
    assert linked.reasons[:2] + linked.reasons[3:] == plain.reasons


def test_related_fact_checks_by_caption(engines, personas, bag_of_words) -> None:
    shark, _ = _case(
        personas, title="Shark", claim="A shark swam on the flooded highway", publish=True
    )
    _case(personas, title="Draft shark", claim="A shark swam on the flooded highway", publish=False)
    _case(personas, title="Moon", claim="The moon landing was staged", publish=True)
    document = image_analyze(
        content=_photo(), input_name="x.png", text="Shark swam on flooded highway!"
    ).document
    [related] = document["related_fact_checks"]  # not the draft, not the unrelated one
    assert related["case_id"] == shark.pk and related["published"] is True
    assert related["score"] >= MIN_RELATED_SCORE
    assert related["claim"] == "A shark swam on the flooded highway"
    assert image_analyze(content=_photo(), input_name="x.png").document["related_fact_checks"] == []


def test_related_fact_checks_by_text_in_the_image(engines, personas, bag_of_words) -> None:
    shark, _ = _case(
        personas, title="Shark", claim="A shark swam on the flooded highway", publish=True
    )
    moon, _ = _case(personas, title="Moon", claim="The moon landing was staged", publish=True)
    engines.text_lines = ["SHARK SWAM ON", "THE FLOODED HIGHWAY"]
    document = image_analyze(content=_photo(), input_name="x.png").document
    [related] = document["related_fact_checks"]
    assert related["case_id"] == shark.pk and related["matched_on"] == "text_in_image"
    # A caption and the picture's text finding different cases: both, best first.
    document = image_analyze(
        content=_photo(), input_name="x.png", text="The moon landing was staged"
    ).document
    assert [
        (entry["case_id"], entry["matched_on"]) for entry in document["related_fact_checks"]
    ] == [
        (moon.pk, "caption"),
        (shark.pk, "text_in_image"),
    ]


def test_related_merged_keeps_each_case_once_best_first() -> None:
    caption = [{"case_id": 1, "score": 0.6, "matched_on": "caption"}]
    in_image = [
        {"case_id": 1, "score": 0.9, "matched_on": "text_in_image"},
        {"case_id": 2, "score": 0.7, "matched_on": "text_in_image"},
        {"case_id": 3, "score": 0.55, "matched_on": "text_in_image"},
        {"case_id": 4, "score": 0.51, "matched_on": "text_in_image"},
    ]
    merged = fact_checks.related_merged(caption, in_image)
    assert [(entry["case_id"], entry["matched_on"]) for entry in merged] == [
        (1, "text_in_image"),
        (2, "text_in_image"),
        (3, "text_in_image"),
    ]
    assert len(merged) == RELATED_FACT_CHECKS
    tie = [{"case_id": 1, "score": 0.6, "matched_on": "text_in_image"}]
    assert fact_checks.related_merged(caption, tie)[0]["matched_on"] == "caption"


def test_related_score_boundary_and_count(monkeypatch) -> None:
    found = [
        {"case_id": n, "score": score}
        for n, score in enumerate([0.9, MIN_RELATED_SCORE, MIN_RELATED_SCORE - 1e-4])
    ]
    asked: dict[str, object] = {}

    def fake_related(text: str, k: int, *, published_only: bool) -> list[dict]:
        asked.update(k=k, published_only=published_only)
        return found

    monkeypatch.setattr(case_selectors, "related_factchecks", fake_related)
    assert [entry["case_id"] for entry in fact_checks.related_fact_checks("x")] == [0, 1]
    assert asked == {"k": RELATED_FACT_CHECKS, "published_only": True}


def test_no_published_claim_means_no_model_load_and_a_missing_model_is_not_fatal(
    monkeypatch, personas
) -> None:
    def missing() -> None:
        raise ClaimModelMissing("no sentence-transformers model in /nowhere")

    monkeypatch.setattr(case_selectors, "configured_claim_embedder", missing)
    _case(personas, title="Draft", claim="A shark on the highway", publish=False)
    assert case_selectors.related_factchecks("shark", published_only=True) == []  # no load
    with pytest.raises(ClaimModelMissing):
        case_selectors.related_factchecks("shark", published_only=False)
    _case(personas, title="Shark", claim="A shark on the highway", publish=True)
    assert fact_checks.related_fact_checks("A shark on the highway") == []


def test_item_page_shows_linked_and_related_fact_checks(personas) -> None:
    item = review_item_create()
    report = Report.objects.get(submission=item.submission, is_current=True)
    case, reference = _case(
        personas, title="Coffee cup", claim="A cup", publish=True, original=True
    )
    draft, _ = _case(personas, title="Still a draft", claim="A cup", publish=False)
    related = {**case_selectors.case_link(case), "score": 0.81, "claim": "A cup"}
    report.document["matches"][0]["reference"]["id"] = str(reference.pk)
    report.document["related_fact_checks"] = [
        related,
        {**related, "case_id": draft.pk, "title": "Still a draft"},  # unpublished since
    ]
    report.save(update_fields=["document"])
    client = Client()
    client.force_login(personas["moderator"])
    html = client.get(f"/review/items/{item.pk}/").content.decode()
    section = html[html.index('id="fact-checks"') :]
    covering, related_part = section.split("Related to the caption")
    assert f'href="/factchecks/{case.slug}/">Coffee cup</a>' in covering
    assert f'href="/api/v1/cases/{case.pk}/claimreview/"' in covering
    assert f'href="/factchecks/{case.slug}/">Coffee cup</a>' in related_part
    assert "81% similar claim" in related_part and "Still a draft" not in html


def test_item_page_without_fact_checks_says_so(personas) -> None:
    item = review_item_create(with_match=False)
    client = Client()
    client.force_login(personas["moderator"])
    html = client.get(f"/review/items/{item.pk}/").content.decode()
    assert "No published fact-check holds a matched original as evidence." in html
    assert "No published fact-check makes a similar claim." in html


def test_item_page_tells_a_report_older_than_text_reading_from_one_without_text(personas) -> None:
    item = review_item_create()
    report = Report.objects.get(submission=item.submission, is_current=True)
    client = Client()
    client.force_login(personas["moderator"])
    page = f"/review/items/{item.pk}/"
    assert "made before text in images was read" in client.get(page).content.decode()
    report.document["text_in_image"] = {"text": "", "lines": []}
    report.save(update_fields=["document"])
    html = client.get(page).content.decode()
    assert "No text was read in this image." in html and 'disabled aria-keyshortcuts="t"' in html
