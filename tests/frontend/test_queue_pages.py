"""The review queue's throughput tools: advancing after a decision, search, sorting, saved
filters, thumbnails, and leases shown as they are."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from PIL import Image

from frontend.queue_presenters import short_duration
from mediastore.models import MediaObject
from mediastore.services import media_store
from moderation.models import (
    Decision,
    ReviewerSettings,
    ReviewItem,
    SavedQueueFilter,
    Submission,
)
from moderation.review import item_claim
from moderation.review_settings import queue_query_clean, saved_filter_create
from tests.frontend.test_review_pages import signed_in, streamed
from tests.moderation.review_factory import review_item_create

pytestmark = pytest.mark.django_db


def queue_ids(client: Client, query: str = "") -> list[int]:
    response = client.get("/review/" + query)
    assert response.status_code == 200
    return [row["item"].pk for row in response.context["rows"]]


# ---- advancing after a decision -----------------------------------------------------------------


def test_a_decision_opens_the_next_item_by_default(personas) -> None:
    first = review_item_create(seed=1, priority=9)
    following = review_item_create(seed=2, priority=5)
    moderator = personas["moderator"]
    item_claim(item=first, user=moderator)
    client = signed_in(moderator)
    response = client.post(f"/review/items/{first.pk}/decide/", {"action": "allow"})
    assert response.status_code == 302
    assert response["Location"] == f"/review/items/{following.pk}/"
    following.refresh_from_db()
    assert following.status == ReviewItem.Status.CLAIMED
    assert following.claimed_by == moderator
    assert Decision.objects.get().item == first


def test_the_last_decision_goes_back_to_the_queue(personas) -> None:
    only = review_item_create(seed=1)
    item_claim(item=only, user=personas["moderator"])
    response = signed_in(personas["moderator"]).post(
        f"/review/items/{only.pk}/decide/", {"action": "allow"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/review/"
    assert "Nothing else is waiting in the queue." in response.content.decode()


def test_unticking_advance_stays_and_is_remembered(personas) -> None:
    first = review_item_create(seed=1, priority=9)
    second = review_item_create(seed=2, priority=5)
    review_item_create(seed=3, priority=1)
    moderator = personas["moderator"]
    client = signed_in(moderator)
    item_claim(item=first, user=moderator)
    page = client.get(f"/review/items/{first.pk}/").content.decode()
    assert 'id="decision-advance" name="advance" value="1" checked' in page
    stay = client.post(
        f"/review/items/{first.pk}/decide/", {"action": "allow", "advance_shown": "1"}
    )
    assert stay["Location"] == f"/review/items/{first.pk}/"
    assert ReviewerSettings.objects.get(user=moderator).advance_after_decision is False
    # The next decision stays too, even from a form that does not show the choice.
    item_claim(item=second, user=moderator)
    again = client.post(f"/review/items/{second.pk}/decide/", {"action": "allow"})
    assert again["Location"] == f"/review/items/{second.pk}/"
    page = client.get(f"/review/items/{second.pk}/").content.decode()
    # The queue's settings form turns it back on.
    client.post("/review/settings/", {"advance": "1", "next": "//evil.example/"})
    assert ReviewerSettings.objects.get(user=moderator).advance_after_decision is True


def test_settings_need_the_reviewer_role_and_a_same_site_post(personas) -> None:
    outsider = signed_in(personas["outsider"])
    assert outsider.post("/review/settings/", {"advance": "1"}).status_code == 403
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(personas["moderator"])
    assert forged.post("/review/settings/", {"advance": ""}).status_code == 403
    assert not ReviewerSettings.objects.exists()
    moderator = signed_in(personas["moderator"])
    # Another site however spelled (browsers read a backslash as a slash): the queue instead.
    for elsewhere in ("//evil.example/", "/\\evil.example/", "/\\/evil.example", "javascript:x"):
        settings_redirect = moderator.post("/review/settings/", {"advance": "", "next": elsewhere})
        assert settings_redirect["Location"] == "/review/", elsewhere
    local = moderator.post("/review/settings/", {"advance": "", "next": "/review/?q=cat"})
    assert local["Location"] == "/review/?q=cat"


# ---- search and sorting --------------------------------------------------------------------------


def test_search_by_id_external_id_and_caption(personas) -> None:
    cat = review_item_create(seed=1, text="A cat on the moon")
    dog = review_item_create(seed=2, text="A dog in the rain")
    client = signed_in(personas["moderator"])
    assert queue_ids(client, "?q=moon") == [cat.pk]
    assert queue_ids(client, "?q=DOG") == [dog.pk]
    assert queue_ids(client, f"?q={dog.submission.external_id}") == [dog.pk]
    assert queue_ids(client, f"?q=%23{cat.submission_id}") == [cat.pk]
    assert queue_ids(client, f"?q={dog.submission_id}") == [dog.pk]
    assert queue_ids(client, "?q=nothing-like-this") == []
    # Hostile or odd input is a plain search, never an error.
    for query in ["99999999999999999999999", "%27%20OR%201=1--", "x" * 5000, "-1"]:
        assert client.get(f"/review/?q={query}").status_code == 200
    assert client.get("/review/?q=%00").status_code == 400  # the project's NUL guard


def test_columns_sort_both_ways_and_unknown_sorts_are_ignored(personas) -> None:
    low = review_item_create(seed=1, priority=1)
    high = review_item_create(seed=2, priority=9)
    ReviewItem.objects.filter(pk=low.pk).update(created_at=timezone.now() - dt.timedelta(hours=3))
    client = signed_in(personas["moderator"])
    assert queue_ids(client) == [high.pk, low.pk]
    assert queue_ids(client, "?sort=-priority") == [low.pk, high.pk]
    assert queue_ids(client, "?sort=oldest") == [low.pk, high.pk]
    assert queue_ids(client, "?sort=newest") == [high.pk, low.pk]
    assert queue_ids(client, "?sort=submission__text") == [high.pk, low.pk]
    page = client.get("/review/?sort=oldest&q=hills").content.decode()
    assert 'aria-sort="ascending"' in page
    assert "sort=newest" in page  # the column's link reverses the order
    assert 'name="sort" value="oldest"' in page  # the search keeps the order


# ---- saved filters -------------------------------------------------------------------------------


def test_saved_filters_are_per_user(personas) -> None:
    moderator = personas["moderator"]
    client = signed_in(moderator)
    response = client.post(
        "/review/filters/",
        {"name": "  Alpha   edits ", "query": "label=edited_copy&page=3&evil=1&platform=Alpha"},
    )
    saved = SavedQueueFilter.objects.get()
    assert (saved.user, saved.name) == (moderator, "Alpha edits")
    assert saved.query == "label=edited_copy&platform=Alpha"
    assert response["Location"] == "/review/?label=edited_copy&platform=Alpha"
    page = client.get("/review/?label=edited_copy&platform=Alpha").content.decode()
    assert "Alpha edits" in page and 'aria-current="true">Alpha edits' in page
    # Someone else neither sees nor deletes it.
    other = signed_in(personas["admin"])
    assert "Alpha edits" not in other.get("/review/").content.decode()
    other.post(f"/review/filters/{saved.pk}/delete/")
    assert SavedQueueFilter.objects.filter(pk=saved.pk).exists()
    # Saving the same name again replaces the search; the owner deletes it.
    saved_filter_create(user=moderator, name="Alpha edits", query="q=cat")
    assert SavedQueueFilter.objects.get().query == "q=cat"
    client.post(f"/review/filters/{saved.pk}/delete/")
    assert not SavedQueueFilter.objects.exists()


def test_saving_a_filter_without_a_name_is_a_form_error(personas) -> None:
    client = signed_in(personas["moderator"])
    response = client.post("/review/filters/", {"name": " ", "query": "q=cat"}, follow=True)
    assert "Give the saved filter a name." in response.content.decode()
    long = client.post("/review/filters/", {"name": "n" * 81, "query": ""}, follow=True)
    assert "limited to 80 characters" in long.content.decode()
    assert not SavedQueueFilter.objects.exists()
    assert client.post("/review/filters/abc/delete/").status_code == 404


def test_durations_are_short() -> None:
    assert short_duration(dt.timedelta(days=2, hours=3)) == "2 d"
    assert short_duration(dt.timedelta(hours=5, minutes=59)) == "5 h"
    assert short_duration(dt.timedelta(minutes=12)) == "12 min"
    assert short_duration(dt.timedelta(seconds=59)) == "under a minute"
    assert short_duration(dt.timedelta(hours=-3)) == "3 h"


def test_queue_query_clean_keeps_the_queue_parameters_in_order() -> None:
    assert queue_query_clean("sort=oldest&q=a+b&page=2&x=1&label=") == "q=a+b&sort=oldest"


# ---- thumbnails ----------------------------------------------------------------------------------


def test_thumbnails_are_small_and_access_checked(personas, api_client_credentials) -> None:
    item = review_item_create(seed=1)
    client = signed_in(personas["moderator"])
    page = client.get("/review/").content.decode()
    assert f'src="/review/items/{item.pk}/thumbnail.jpg" alt="" loading="lazy"' in page
    response = client.get(f"/review/items/{item.pk}/thumbnail.jpg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    thumbnail = Image.open(io.BytesIO(streamed(response)))
    assert max(thumbnail.size) == 160
    assert client.get(f"/review/items/{item.pk}/thumbnail.jpg").status_code == 200  # cached
    # Other tenants' items and outsiders get nothing.
    scoped = personas["moderator"]
    scoped.groups.add(Group.objects.create(name=f"client:{api_client_credentials.client.slug}"))
    assert signed_in(scoped).get(f"/review/items/{item.pk}/thumbnail.jpg").status_code == 404
    outsider = signed_in(personas["outsider"])
    assert outsider.get(f"/review/items/{item.pk}/thumbnail.jpg").status_code == 403


def test_videos_show_a_frame_marked_as_video(personas, videos) -> None:
    item = review_item_create(seed=1)
    stored = media_store(content=videos["repost"], allow_video=True).media
    Submission.objects.filter(pk=item.submission_id).update(media=stored)
    client = signed_in(personas["moderator"])
    page = client.get("/review/").content.decode()
    assert f'src="/review/items/{item.pk}/thumbnail.jpg"' in page and "thumb-play" in page
    response = client.get(f"/review/items/{item.pk}/thumbnail.jpg")
    assert response.status_code == 200
    thumbnail = Image.open(io.BytesIO(streamed(response)))
    assert thumbnail.size == (160, 120)  # the 240 x 180 repost's frame at 1 s


def test_an_unreadable_video_gets_no_thumbnail(personas) -> None:
    item = review_item_create(seed=1)
    MediaObject.objects.filter(pk=item.submission.media_id).update(kind=MediaObject.Kind.VIDEO)
    client = signed_in(personas["moderator"])
    assert client.get(f"/review/items/{item.pk}/thumbnail.jpg").status_code == 404


# ---- leases as they are --------------------------------------------------------------------------


def test_an_expired_lease_is_not_shown_as_yours(personas) -> None:
    held = review_item_create(seed=1)
    expired = review_item_create(seed=2)
    moderator = personas["moderator"]
    item_claim(item=held, user=moderator)
    item_claim(item=expired, user=moderator)
    ReviewItem.objects.filter(pk=expired.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    response = signed_in(moderator).get("/review/")
    rows = {row["item"].pk: row for row in response.context["rows"]}
    assert rows[held.pk]["mine"] and not rows[expired.pk]["mine"]
    assert response.context["counts"]["mine"] == 1
    page = response.content.decode()
    assert page.count("Yours ·") == 1
    assert "Lease expired" in page
    assert f'aria-label="Claim submission {expired.submission_id}"' in page


# ---- undo, assign, my decisions, SLA, canned rationales ------------------------------------------


def test_the_next_page_offers_undo_and_undo_restores(personas) -> None:
    first = review_item_create(seed=1, priority=9)
    review_item_create(seed=2, priority=5)
    moderator = personas["moderator"]
    item_claim(item=first, user=moderator)
    client = signed_in(moderator)
    response = client.post(f"/review/items/{first.pk}/decide/", {"action": "allow"}, follow=True)
    page = response.content.decode()
    decision = Decision.objects.get()
    assert 'id="undo-bar"' in page and f'name="decision" value="{decision.pk}"' in page
    assert "can be undone for 30 seconds" in page
    undone = client.post("/review/decisions/undo/", {"decision": str(decision.pk)}, follow=True)
    assert undone.redirect_chain[-1][0] == f"/review/items/{first.pk}/"
    assert "Decision undone" in undone.content.decode()
    assert 'id="undo-bar"' not in undone.content.decode()
    first.refresh_from_db()
    assert first.status == ReviewItem.Status.CLAIMED and first.claimed_by == moderator


def test_undo_refuses_bad_ids_and_other_peoples_decisions(personas) -> None:
    item = review_item_create(seed=1)
    moderator = personas["moderator"]
    item_claim(item=item, user=moderator)
    signed_in(moderator).post(f"/review/items/{item.pk}/decide/", {"action": "allow"})
    decision = Decision.objects.get()
    other = signed_in(personas["admin"])
    for bad in [{}, {"decision": "abc"}, {"decision": "1e3"}, {"decision": "9" * 30}]:
        assert other.post("/review/decisions/undo/", bad).status_code == 400
    refused = other.post("/review/decisions/undo/", {"decision": str(decision.pk)}, follow=True)
    assert "No such decision of yours." in refused.content.decode()
    assert Decision.objects.get().undone_at is None
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(moderator)
    assert forged.post("/review/decisions/undo/", {"decision": str(decision.pk)}).status_code == 403
    assert Decision.objects.get().undone_at is None


def test_my_decisions_lists_mine_with_undo_while_it_lasts(personas) -> None:
    moderator = personas["moderator"]
    fresh, old = review_item_create(seed=1, text="fresh one"), review_item_create(seed=2)
    for item in (old, fresh):
        item_claim(item=item, user=moderator)
        signed_in(moderator).post(f"/review/items/{item.pk}/decide/", {"action": "allow"})
    Decision.objects.filter(item=old).update(created_at=timezone.now() - dt.timedelta(hours=1))
    page = signed_in(moderator).get("/review/decisions/").content.decode()
    assert "fresh one" in page
    assert page.count("Undo the decision on submission") == 1
    assert f"Undo the decision on submission {fresh.submission_id}" in page
    assert (
        "No decisions yet."
        in signed_in(personas["admin"]).get("/review/decisions/").content.decode()
    )
    assert signed_in(personas["outsider"]).get("/review/decisions/").status_code == 403


def test_assign_takes_only_a_reviewer_from_the_list(personas) -> None:
    moderator = personas["moderator"]
    colleague = personas["admin"]  # admins review too
    item = review_item_create(seed=1)
    item_claim(item=item, user=moderator)
    client = signed_in(moderator)
    page = client.get(f"/review/items/{item.pk}/").content.decode()
    assert f'<option value="{colleague.pk}">admin</option>' in page
    assert f'<option value="{personas["outsider"].pk}">' not in page
    for forged in ["", "abc", str(personas["outsider"].pk), str(moderator.pk), "99999999"]:
        response = client.post(
            f"/review/items/{item.pk}/assign/", {"assignee": forged}, follow=True
        )
        assert "Choose someone from the list" in response.content.decode(), forged
    assert ReviewItem.objects.get(pk=item.pk).claimed_by == moderator
    done = client.post(f"/review/items/{item.pk}/assign/", {"assignee": str(colleague.pk)})
    assert done["Location"] == "/review/"
    assert ReviewItem.objects.get(pk=item.pk).claimed_by == colleague


def test_the_queue_shows_age_and_highlights_sla_breaches(personas, settings) -> None:
    settings.REVIEW_SLA_HOURS = 4
    late = review_item_create(seed=1)
    review_item_create(seed=2)
    Submission.objects.filter(pk=late.submission_id).update(
        created_at=timezone.now() - dt.timedelta(hours=6)
    )
    page = signed_in(personas["moderator"]).get("/review/").content.decode()
    assert page.count("SLA breached 2 h ago") == 1
    assert "sla-breached" in page
    assert "SLA: 3 h left" in page
    assert "6 h ago" in page


def test_the_form_offers_canned_rationales_and_they_work_without_script(personas) -> None:
    item = review_item_create(seed=1)
    moderator = personas["moderator"]
    item_claim(item=item, user=moderator)
    client = signed_in(moderator)
    page = client.get(f"/review/items/{item.pk}/").content.decode()
    assert 'data-action="remove"' in page and "Known hoax picture" in page
    client.post(
        f"/review/items/{item.pk}/decide/",
        {"action": "remove", "canned": "Known hoax picture, debunked by a published fact-check."},
    )
    assert Decision.objects.get().rationale.startswith("Known hoax picture")


def test_a_group_link_lists_the_group(personas, api_client_credentials) -> None:
    lead = review_item_create(seed=1, priority=9)
    copy = review_item_create(seed=1, priority=5)
    review_item_create(seed=2, priority=1)
    theirs = review_item_create(seed=4, client=api_client_credentials.client)
    client = signed_in(personas["moderator"])
    page = client.get("/review/").content.decode()
    assert f'href="?group={lead.pk}"' in page
    assert queue_ids(client, f"?group={lead.pk}") == [lead.pk, copy.pk]
    assert "Show the whole queue" in client.get(f"/review/?group={lead.pk}").content.decode()
    scoped = personas["admin"]
    scoped.groups.add(Group.objects.create(name=f"client:{api_client_credentials.client.slug}"))
    assert queue_ids(signed_in(scoped), f"?group={lead.pk}") == []  # not theirs to see
    assert queue_ids(signed_in(scoped), f"?group={theirs.pk}") == [theirs.pk]
    for bad in ["abc", "-1", "9" * 30, ""]:
        assert queue_ids(client, f"?group={bad}") == []


def test_assigning_another_tenants_item_is_not_found(personas, api_client_credentials) -> None:
    other = review_item_create(seed=1)
    moderator = personas["moderator"]
    moderator.groups.add(Group.objects.create(name=f"client:{api_client_credentials.client.slug}"))
    response = signed_in(moderator).post(
        f"/review/items/{other.pk}/assign/", {"assignee": str(personas["admin"].pk)}
    )
    assert response.status_code == 404
    assert ReviewItem.objects.get(pk=other.pk).claimed_by is None
