"""Near misses on the item page: the "Closest original, not confirmed" card, their images, and
confirming or dismissing them (access per persona, audit)."""

from __future__ import annotations

import pytest
from django.http import StreamingHttpResponse
from django.test import Client

from accounts.models import AuditLog
from factcheck.core.matcher import DETAIL_DIFFERS
from factcheck.core.verify import TOO_TILTED
from factcheck.models import Reference
from frontend.presenters import item_page_data
from moderation.models import NearMissJudgement, ReviewItem
from moderation.near_misses import near_miss_judge
from tests.moderation.review_factory import (
    near_miss_entry,
    near_misses_set,
    reference_create,
    review_item_create,
)

pytestmark = pytest.mark.django_db

CARD_TITLE = "Closest original, not confirmed"


def streamed(response: object) -> bytes:
    """The body of a streamed (file) response."""
    assert isinstance(response, StreamingHttpResponse)
    return response.getvalue()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def item_with_near_miss(*, seed: int = 1, with_match: bool = True) -> tuple[ReviewItem, Reference]:
    item = review_item_create(seed=seed, with_match=with_match)
    candidate = reference_create(seed=100 + seed)
    Reference.objects.filter(pk=candidate.pk).update(source="Other Archive")
    candidate.refresh_from_db()
    near_misses_set(item, [near_miss_entry(candidate)])
    return item, candidate


def judge_url(item: ReviewItem, reference_id: int) -> str:
    return f"/review/items/{item.pk}/near-misses/{reference_id}/judge/"


def page_of(client: Client, item: ReviewItem) -> str:
    return client.get(f"/review/items/{item.pk}/").content.decode()


# ---- reference images ---------------------------------------------------------------------------


def test_reference_image_is_served_for_near_misses_of_the_item_only(personas) -> None:
    item, candidate = item_with_near_miss()
    _, other_candidate = item_with_near_miss(seed=2)
    unrelated = reference_create(seed=99)
    client = signed_in(personas["moderator"])
    # The attacker's requests first: an original that is no part of this item's reports, one
    # that is a near miss of another item, and a forged id, are all unknown here.
    for reference_id in (unrelated.pk, other_candidate.pk, 10**30):
        url = f"/review/items/{item.pk}/references/{reference_id}"
        assert client.get(url).status_code == 404, reference_id
    near = client.get(f"/review/items/{item.pk}/references/{candidate.pk}")
    assert near.status_code == 200
    assert near["X-Content-Type-Options"] == "nosniff"
    assert streamed(near).startswith(b"\x89PNG")
    matched_id = item.submission.reports.get().document["matches"][0]["reference"]["id"]
    assert client.get(f"/review/items/{item.pk}/references/{matched_id}").status_code == 200
    assert Client().get(f"/review/items/{item.pk}/references/{candidate.pk}").status_code == 302
    assert (
        signed_in(personas["outsider"])
        .get(f"/review/items/{item.pk}/references/{candidate.pk}")
        .status_code
        == 403
    )


# ---- presenter ----------------------------------------------------------------------------------


def test_presenter_without_near_misses_gives_none() -> None:
    item = review_item_create(seed=1)  # an older report: no near_misses key
    report = item.submission.reports.get()
    assert "near_misses" not in report.document
    assert item_page_data(item=item, report=report)["near_misses"] == []
    for malformed in (None, "x", 3, {"reference": {"id": "1"}}):
        report = near_misses_set(item, malformed)
        assert item_page_data(item=item, report=report)["near_misses"] == []


def test_presenter_skips_malformed_entries_and_words_the_evidence() -> None:
    item = review_item_create(seed=1)
    good = reference_create(seed=21)
    odd = reference_create(seed=22)
    matched_id = item.submission.reports.get().document["matches"][0]["reference"]["id"]
    report = near_misses_set(
        item,
        [
            "not a dict",
            None,
            {"reference": {"id": "abc"}, "reason": "too few inliers"},
            {"reference": {"id": "١٢"}, "reason": "too few inliers"},
            {"reference": "12"},
            {"reference": {"id": matched_id}, "reason": "too few inliers"},  # a verified match
            near_miss_entry(good, inliers=1, pdq_distance=None, embedding_similarity=0.61),
            {
                "reference": {"id": str(odd.pk), "source": "Odd"},
                "reason": "scale 9 out of range",
                "inliers": True,
                "pdq_distance": "far",
                "embedding_similarity": None,
            },
            {"reference": {"id": "987654"}, "reason": None},  # not stored here: no image
            near_miss_entry(good),  # the same reference again
        ],
    )
    shown = item_page_data(item=item, report=report)["near_misses"]
    assert [near["reference_id"] for near in shown] == [good.pk, odd.pk, 987654]
    first, second, third = shown
    assert first["evidence"] == ["1 matching point", "global likeness 61%"]
    assert first["why"].startswith("Too few matching points line up")
    assert first["image_url"] == f"/review/items/{item.pk}/references/{good.pk}"
    assert second["evidence"] == []
    assert second["why"] == "scale 9 out of range"  # unknown reasons are shown as they are
    assert third["image_url"] is None
    assert third["why"] == "The search found it, but verification did not confirm it."


# ---- the card -----------------------------------------------------------------------------------


def test_item_page_shows_the_card_after_the_matched_original(personas) -> None:
    item, candidate = item_with_near_miss()
    html = page_of(signed_in(personas["moderator"]), item)
    assert html.index("Matched original") < html.index(CARD_TITLE)
    for expected in [
        "Other Archive",
        candidate.external_id,
        "Too few matching points line up between the two images",
        "7 matching points · global likeness 61% · fingerprints differ in 80 of 256 bits",
        f'src="/review/items/{item.pk}/references/{candidate.pk}?display=1"',
        f'href="/review/items/{item.pk}/references/{candidate.pk}"',  # the full file
        f'href="{candidate.url}"',
        f'action="{judge_url(item, candidate.pk)}"',
        "This is the original",
        "Not the original",
    ]:
        assert expected in html, expected


def test_card_is_shown_without_a_match_and_links_only_http_urls(personas) -> None:
    item, candidate = item_with_near_miss(with_match=False)
    Reference.objects.filter(pk=candidate.pk).update(url="javascript:alert(1)")
    candidate.refresh_from_db()
    near_misses_set(item, [near_miss_entry(candidate, reason="fine detail differs")])
    html = page_of(signed_in(personas["moderator"]), item)
    assert "Matched original" not in html
    assert CARD_TITLE in html
    assert "fine detail differs: perhaps another shot of the same scene" in html
    assert 'href="javascript:' not in html
    assert '<span class="unlinked small">javascript:alert(1)</span>' in html


def test_no_card_without_near_misses(personas) -> None:
    item = review_item_create(seed=1)
    assert CARD_TITLE not in page_of(signed_in(personas["moderator"]), item)


def test_viewers_without_the_review_right_see_no_buttons(personas) -> None:
    item, candidate = item_with_near_miss()
    near_miss_judge(
        item=item, reference_id=candidate.pk, judgement="dismissed", actor=personas["moderator"]
    )
    html = page_of(signed_in(personas["fact_checker"]), item)
    assert "Dismissed by moderator" in html
    assert judge_url(item, candidate.pk) not in html


# ---- judging ------------------------------------------------------------------------------------


def test_confirm_then_dismiss_through_the_page(personas) -> None:
    item, candidate = item_with_near_miss()
    client = signed_in(personas["moderator"])
    response = client.post(judge_url(item, candidate.pk), {"judgement": "confirmed"})
    assert response.status_code == 302
    assert response["Location"] == f"/review/items/{item.pk}/#near-misses"
    page = client.get(response["Location"]).content.decode()
    assert "Recorded: Other Archive" in page and "is the original." in page
    assert "Confirmed as the original by moderator" in page
    assert ">This is the original<" not in page  # only the button to change it
    assert "Not the original" in page
    assert "near_miss.confirmed" in page  # the item's audit trail

    back = f"/review/items/{item.pk}/?version=1#near-miss-{candidate.pk}"
    response = client.post(judge_url(item, candidate.pk), {"judgement": "dismissed", "next": back})
    assert response["Location"] == back
    page = page_of(client, item)
    assert "Dismissed by moderator" in page
    assert "Confirmed as the original" not in page
    stored = NearMissJudgement.objects.get()  # the second judgement replaced the first
    assert stored.judgement == "dismissed"
    audit = AuditLog.objects.filter(action__startswith="near_miss.").order_by("id")
    assert [a.action for a in audit] == ["near_miss.confirmed", "near_miss.dismissed"]
    assert all(a.actor == personas["moderator"] for a in audit)


def test_a_reference_that_is_not_a_near_miss_is_refused(personas) -> None:
    item, _ = item_with_near_miss()
    _, elsewhere = item_with_near_miss(seed=2)
    unrelated = reference_create(seed=99)
    matched_id = item.submission.reports.get().document["matches"][0]["reference"]["id"]
    client = signed_in(personas["moderator"])
    for reference_id in (unrelated.pk, elsewhere.pk, matched_id, 10**30):
        response = client.post(judge_url(item, reference_id), {"judgement": "confirmed"})
        assert response.status_code == 400, reference_id
    _, candidate = item_with_near_miss(seed=3)
    assert client.post(judge_url(item, candidate.pk), {"judgement": "x"}).status_code == 400
    assert not NearMissJudgement.objects.exists()


def test_who_may_judge(personas, api_client_credentials) -> None:
    from django.contrib.auth.models import Group

    item, candidate = item_with_near_miss()
    url = judge_url(item, candidate.pk)
    anonymous = Client().post(url, {"judgement": "confirmed"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/?next=")
    # Looking is not deciding: fact-checkers see the item but may not judge (as with decisions).
    for persona in ("fact_checker", "outsider"):
        refused = signed_in(personas[persona]).post(url, {"judgement": "confirmed"})
        assert refused.status_code == 403, persona
    moderator = signed_in(personas["moderator"])
    assert moderator.get(url).status_code == 405
    missing = f"/review/items/{item.pk + 1000}/near-misses/{candidate.pk}/judge/"
    assert moderator.post(missing, {"judgement": "confirmed"}).status_code == 404
    tenant = personas["admin"]
    tenant.groups.add(Group.objects.get(name="moderator"))
    tenant.groups.add(Group.objects.create(name=f"client:{api_client_credentials.client.slug}"))
    assert signed_in(tenant).post(url, {"judgement": "confirmed"}).status_code == 404
    assert not NearMissJudgement.objects.exists()


def test_judging_needs_the_csrf_token(personas) -> None:
    item, candidate = item_with_near_miss()
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["moderator"])
    response = client.post(judge_url(item, candidate.pk), {"judgement": "confirmed"})
    assert response.status_code == 403
    assert not NearMissJudgement.objects.exists()


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        (DETAIL_DIFFERS, "most of its detail differs from the submitted image"),
        (TOO_TILTED, "only line up if the original is tilted steeply"),
    ],
)
def test_the_layout_guards_reasons_are_worded(personas, reason, words) -> None:
    item, candidate = item_with_near_miss(with_match=False)
    near_misses_set(item, [near_miss_entry(candidate, reason=reason)])
    html = page_of(signed_in(personas["moderator"]), item)
    assert words in html and reason not in html
