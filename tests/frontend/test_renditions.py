"""Display-sized renditions of the submitted image and report artifacts on the review pages."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from factcheck.models import Reference
from mediastore.renditions import MAX_DISPLAY_SIDE, RENDITIONS_DIR
from mediastore.services import media_store
from moderation.models import ReportArtifact
from tests.moderation.review_factory import artifact_save, review_item_create

pytestmark = pytest.mark.django_db


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


def big_photo(width: int = 2400, height: int = 1200) -> bytes:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(height // 8, width // 8, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize((width, height))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def moderator_client(personas) -> Client:
    client = Client()
    client.force_login(personas["moderator"])
    return client


def big_item():
    item = review_item_create(seed=51)
    submission = item.submission
    submission.media = media_store(content=big_photo()).media
    submission.save(update_fields=["media"])
    return item


def test_a_big_image_is_served_display_sized_once_made(personas) -> None:
    item = big_item()
    client = moderator_client(personas)
    url = f"/review/items/{item.pk}/media"
    response = client.get(url, {"display": "1"})
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    shown = Image.open(io.BytesIO(streamed(response)))
    assert shown.size == (MAX_DISPLAY_SIDE, MAX_DISPLAY_SIDE // 2)
    sha = item.submission.media.sha256
    stored = f"{RENDITIONS_DIR}/{sha}-{MAX_DISPLAY_SIDE}.jpg"
    assert default_storage.exists(stored)
    made = default_storage.get_modified_time(stored)
    assert streamed(client.get(url, {"display": "1"})) == default_storage.open(stored).read()
    assert default_storage.get_modified_time(stored) == made  # not made again
    _, listed = default_storage.listdir(RENDITIONS_DIR)
    assert [name for name in listed if name.startswith(sha)] == [f"{sha}-{MAX_DISPLAY_SIDE}.jpg"]
    # The original is one click away, unchanged.
    original = Image.open(io.BytesIO(streamed(client.get(url))))
    assert original.size == (2400, 1200)
    page = client.get(f"/review/items/{item.pk}/").content.decode()
    assert f'src="{url}?display=1"' in page and f'href="{url}" id="original-link"' in page


@pytest.mark.parametrize("value", ["0", "true", "javascript:alert(1)", "1;drop", ""])
def test_anything_but_display_1_serves_the_original(personas, value) -> None:
    item = big_item()
    response = moderator_client(personas).get(f"/review/items/{item.pk}/media", {"display": value})
    assert response.status_code == 200
    assert Image.open(io.BytesIO(streamed(response))).size == (2400, 1200)


def test_a_small_image_is_served_as_it_is(personas) -> None:
    item = review_item_create(seed=52)
    client = moderator_client(personas)
    url = f"/review/items/{item.pk}/media"
    assert streamed(client.get(url, {"display": "1"})) == streamed(client.get(url))


def test_a_big_forensic_map_is_served_display_sized_as_png(personas) -> None:
    item = review_item_create(seed=53)
    report = item.submission.reports.get(is_current=True)
    report.artifacts.filter(kind=ReportArtifact.Kind.FORENSIC_MAP).delete()
    artifact_save(report, ReportArtifact.Kind.FORENSIC_MAP, np.full((1000, 3200), 200, np.uint8))
    url = f"/review/items/{item.pk}/reports/1/forensic_map.png"
    client = moderator_client(personas)
    response = client.get(url, {"display": "1"})
    assert response["Content-Type"] == "image/png"
    shown = Image.open(io.BytesIO(streamed(response)))
    assert shown.size == (MAX_DISPLAY_SIDE, 500) and shown.mode == "L"
    assert Image.open(io.BytesIO(streamed(client.get(url)))).size == (3200, 1000)


def test_renditions_keep_access_rules(personas) -> None:
    item = big_item()
    outsider = Client()
    outsider.force_login(personas["outsider"])
    assert outsider.get(f"/review/items/{item.pk}/media", {"display": "1"}).status_code == 403
    response = Client().get(f"/review/items/{item.pk}/media", {"display": "1"})
    assert response.status_code == 302
    missing = moderator_client(personas).get("/review/items/999999/media", {"display": "1"})
    assert missing.status_code == 404


def test_a_matched_original_is_shown_display_sized_and_linked_in_full(personas) -> None:
    item = review_item_create(seed=52)
    reference_id = item.submission.reports.get().document["matches"][0]["reference"]["id"]
    reference = Reference.objects.get(pk=reference_id)
    reference.media = media_store(content=big_photo(3000, 1500)).media
    reference.save(update_fields=["media"])
    client = moderator_client(personas)
    url = f"/review/items/{item.pk}/references/{reference_id}"
    page = client.get(f"/review/items/{item.pk}/").content.decode()
    assert f'src="{url}?display=1"' in page and f'href="{url}"' in page
    shown = Image.open(io.BytesIO(streamed(client.get(url, {"display": "1"}))))
    assert max(shown.size) == MAX_DISPLAY_SIDE
    assert Image.open(io.BytesIO(streamed(client.get(url)))).size == (3000, 1500)
    # An original the item's reports never named stays out of reach, rendition or not.
    other = review_item_create(seed=53).submission.reports.get().document["matches"][0]
    unlisted = f"/review/items/{item.pk}/references/{other['reference']['id']}"
    assert client.get(unlisted, {"display": "1"}).status_code == 404
