"""Viewing preferences (always blur, greyscale) and explicit regions on the item page."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ViewingPreferences
from accounts.selectors import viewing_preferences_of
from frontend.presenters import item_page_data
from moderation.models import Report
from tests.moderation.review_factory import HEIGHT, WIDTH, review_item_create

pytestmark = pytest.mark.django_db
URL = "/review/preferences/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def explicit_set(item, regions) -> None:
    report = Report.objects.get(submission=item.submission, is_current=True)
    report.document = {**report.document, "sensitive_regions": regions}
    report.save(update_fields=["document"])


def test_access() -> None:
    response = Client().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_outsiders_are_forbidden(personas) -> None:
    client = signed_in(personas["outsider"])
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"always_blur": "on"}).status_code == 403
    assert not ViewingPreferences.objects.exists()


def test_a_moderator_saves_preferences_applied_to_every_item_page(personas) -> None:
    moderator = personas["moderator"]
    client = signed_in(moderator)
    page = client.get(URL).content.decode()
    assert "Always blur images" in page and "greyscale" in page
    item = review_item_create(seed=41)
    html = client.get(f"/review/items/{item.pk}/").content.decode()
    assert 'class="stage" id="stage"' in html and "greyscale-view" not in html
    response = client.post(
        URL, {"always_blur": "on", "greyscale": "on", "next": f"/review/items/{item.pk}/"}
    )
    assert response.status_code == 302 and response["Location"] == f"/review/items/{item.pk}/"
    saved = viewing_preferences_of(moderator)
    assert saved.always_blur and saved.greyscale
    for seed in (42, 43):
        other = review_item_create(seed=seed)
        html = client.get(f"/review/items/{other.pk}/").content.decode()
        assert 'class="stage blurred" id="stage"' in html
        assert 'id="blur-toggle" checked' in html
        assert '<body class="greyscale-view">' in html
        assert "Blurred as your viewing preferences ask" in html
    # Unticked boxes turn them off again (one row per user).
    client.post(URL, {})
    assert ViewingPreferences.objects.count() == 1
    assert not viewing_preferences_of(moderator).always_blur
    # Another reviewer is not affected.
    html = signed_in(personas["admin"]).get(f"/review/items/{item.pk}/").content.decode()
    assert 'class="stage" id="stage"' in html


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "javascript:alert(1)",
        "",
    ],
)
def test_next_is_never_another_site(personas, target) -> None:
    client = signed_in(personas["moderator"])
    response = client.post(URL, {"greyscale": "on", "next": target})
    assert response.status_code == 302 and response["Location"] == URL
    page = client.get(URL, {"next": target}).content.decode()
    assert "evil.example" not in page and "javascript:" not in page


def test_a_cross_site_post_is_refused(personas) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["moderator"])
    assert client.post(URL, {"always_blur": "on"}).status_code == 403
    assert not ViewingPreferences.objects.exists()


def test_explicit_regions_are_blurred_boxes_and_malformed_ones_skipped(personas) -> None:
    item = review_item_create(seed=44)
    explicit_set(
        item,
        [
            {"bbox": [48, 32, 96, 64], "label": "breast", "score": 0.9},
            {"bbox": [1, 2, 3], "label": "anus"},
            {"bbox": ["x", 0, 5, 5]},
            {"bbox": [0, 0, 0, 10]},
            "not an object",
        ],
    )
    report = Report.objects.get(submission=item.submission, is_current=True)
    data = item_page_data(item=item, report=report)
    assert [(b["left"], b["top"]) for b in data["explicit_regions"]] == [
        (100 * 48 / WIDTH, 100 * 32 / HEIGHT)
    ]
    html = signed_in(personas["moderator"]).get(f"/review/items/{item.pk}/").content.decode()
    assert html.count('class="box explicit-region"') == 1
    assert "1 explicit region found" in html
    assert 'data-layer="explicit" checked' in html
    plain = review_item_create(seed=45)
    html = signed_in(personas["moderator"]).get(f"/review/items/{plain.pk}/").content.decode()
    assert "explicit-region" not in html and 'data-layer="explicit"' not in html
