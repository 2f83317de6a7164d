"""The item page's verdict: one number, a plain sentence of why, contributions in words."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.moderation.review_factory import review_item_create

pytestmark = pytest.mark.django_db


def verdict_card(html: str) -> str:
    start = html.index('aria-labelledby="verdict-title"')
    return html[start : html.index("</section>", start)]


def headline(card: str) -> str:
    """The verdict card without its details disclosure."""
    return re.sub(r"<details.*?</details>", "", card, flags=re.S)


def page(personas, item) -> str:
    client = Client()
    client.force_login(personas["moderator"])
    response = client.get(f"/review/items/{item.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_an_edited_copy_shows_one_number_and_why_in_words(personas) -> None:
    item = review_item_create(seed=21, label="edited_copy", probability=1.0)
    html = page(personas, item)
    card = verdict_card(html)
    assert re.findall(r"\d+%", headline(card)) == ["100%"]
    assert "chance that it was manipulated" in card
    assert "this copy changes what it shows in 1 outlined region." in card
    assert "Verified original from Example Agency" in card
    assert "strongly supports manipulation" in card
    assert "weight" not in headline(card)
    assert "combined" not in html  # no competing detector headline anywhere
    # The detectors' own figures stay, as contributions in the details.
    details = card[card.index("<details") :]
    assert "multitask" in details and "74%" in details and "supports manipulation" in details


def test_a_detector_only_verdict_outlines_the_map(personas) -> None:
    item = review_item_create(
        seed=22, label="likely_manipulated", probability=0.77, with_match=False
    )
    html = page(personas, item)
    card = verdict_card(html)
    assert re.findall(r"\d+%", headline(card)) == ["77%"]
    assert "strongest in the outlined areas" in card
    assert "Search for an original" in card and "none was found" in card
    assert "Forensic detectors" in card and "supports manipulation" in card
    assert 'data-outline-map="1"' in html


def test_no_evidence_and_not_applicable(personas) -> None:
    calm = review_item_create(seed=23, label="no_evidence", probability=0.07, with_match=False)
    card = verdict_card(page(personas, calm))
    assert re.findall(r"\d+%", headline(card)) == ["7%"]
    assert "see no clear sign of editing" in card
    assert "against manipulation" in card
    unjudged = review_item_create(
        seed=24, label="not_applicable", probability=0.0, with_match=False
    )
    html = page(personas, unjudged)
    card = verdict_card(html)
    assert re.findall(r"\d+%", headline(card)) == []  # no number for what cannot be judged
    assert "cannot judge this file" in card
    assert 'data-outline-map="0"' in html
