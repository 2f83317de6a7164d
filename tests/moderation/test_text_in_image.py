"""Text in the image end to end: a generated text card submitted through intake is read by the
bundled OCR, its text matched by the real sentence model against published fact-checks in the
database, and the item page shows the text, its boxes and the related fact-check found from it."""

from __future__ import annotations

import pytest
from django.test import Client

from detection.evaluation.text_cards import available_fonts, text_card
from factcheck.cases.services import (
    ClaimInput,
    case_create,
    case_publish,
    case_rate,
    case_transition,
)
from moderation.models import ReviewItem, Submission
from moderation.selectors import report_current
from moderation.services import submission_create
from tests.factcheck.cases.test_report_links import png

# The analysis runs when the submission's transaction commits, so this test commits for real.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def published_case(personas, *, title: str, claim: str):
    actor = personas["fact_checker"]
    case = case_create(title=title, actor=actor, claims=[ClaimInput(text=claim)])
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="false", explanation="No such thing.")
    case_publish(case=case, actor=actor)
    case.refresh_from_db()
    return case


def test_a_text_card_shows_the_fact_check_its_text_matches(personas) -> None:
    microchips = published_case(
        personas, title="Vaccine microchips", claim="Vaccines contain tracking microchips"
    )
    published_case(personas, title="Moon hoax", claim="The moon landing was staged")
    card = text_card(
        ["COVID vaccines contain", "tracking microchips!"], font=available_fonts()[0], size=56
    )
    submission = submission_create(
        content=png(card.image), source="upload", created_by=personas["moderator"]
    )
    submission.refresh_from_db()
    assert submission.status == Submission.Status.ANALYZED, submission.failure_reason
    report = report_current(submission)
    assert report is not None
    document = report.document
    read = document["text_in_image"]
    assert "tracking microchips" in " ".join(read["text"].lower().split())
    assert all(line["confidence"] >= 0.7 and len(line["bbox"]) == 4 for line in read["lines"])
    [related] = document["related_fact_checks"]  # no caption: found from the picture's text
    assert related["case_id"] == microchips.pk and related["matched_on"] == "text_in_image"
    assert document["timings_ms"]["text_in_image"] > 0
    assert "related_fact_checks_text_in_image" in document["timings_ms"]

    page = Client()
    page.force_login(personas["moderator"])
    item = ReviewItem.objects.get(submission=submission)
    html = page.get(f"/review/items/{item.pk}/").content.decode()
    assert 'id="text-in-image"' in html and "tracking microchips" in html
    assert f'href="/factchecks/{microchips.slug}/">Vaccine microchips</a>' in html
    assert "found from the text in the image" in html
    assert html.count('class="box text-line"') == len(read["lines"])
