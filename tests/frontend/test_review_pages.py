"""Review UI pages: access per persona, tenant separation, protected images, decisions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.http import StreamingHttpResponse
from django.test import Client

from accounts.models import AuditLog
from frontend.presenters import item_page_data
from moderation.models import Decision, Report, ReviewItem
from moderation.review import item_claim
from tests.moderation.review_factory import reference_create, review_item_create

pytestmark = pytest.mark.django_db


def streamed(response: object) -> bytes:
    """The body of a streamed (file) response."""
    assert isinstance(response, StreamingHttpResponse)
    return response.getvalue()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def item_urls(item: ReviewItem) -> list[str]:
    return [
        f"/review/items/{item.pk}/",
        f"/review/items/{item.pk}/media",
        f"/review/items/{item.pk}/reports/1/edit_mask.png",
    ]


def test_anonymous_users_are_sent_to_login() -> None:
    item = review_item_create()
    for url in ["/review/", "/review/audit/", *item_urls(item)]:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=")


def test_outsiders_are_forbidden(personas) -> None:
    item = review_item_create()
    client = signed_in(personas["outsider"])
    for url in ["/review/", "/review/audit/", *item_urls(item)]:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/review/items/{item.pk}/claim/").status_code == 403
    assert b"Not allowed" in client.get("/review/").content


def test_moderator_queue_lists_and_filters(personas) -> None:
    edited = review_item_create(seed=1, label="edited_copy", platform="Alpha", priority=3)
    review_item_create(seed=2, label="no_evidence", platform="Beta", with_match=False)
    client = signed_in(personas["moderator"])
    page = client.get("/review/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Edited copy of a known original" in html
    assert "No evidence of manipulation" in html
    assert "Review next item" in html
    filtered = client.get("/review/", {"label": "edited_copy"}).content.decode()
    assert f"/review/items/{edited.pk}/" in filtered
    assert "No evidence of manipulation</span>\n      \n" not in filtered
    assert filtered.count('class="item-link"') == 1
    assert client.get("/review/", {"platform": "Beta"}).content.decode().count("item-link") == 1
    assert client.get("/review/", {"from": "not-a-date"}).status_code == 200


def test_queue_paginates(personas, settings) -> None:
    for seed in range(3):
        review_item_create(seed=seed, with_match=False)
    import frontend.review_views as views

    original, views.QUEUE_PAGE_SIZE = views.QUEUE_PAGE_SIZE, 2
    try:
        client = signed_in(personas["moderator"])
        first = client.get("/review/").content.decode()
        assert first.count('class="item-link"') == 2
        assert "Page 1 of 2" in first
        second = client.get("/review/", {"page": 2}).content.decode()
        assert second.count('class="item-link"') == 1
    finally:
        views.QUEUE_PAGE_SIZE = original


def test_item_page_shows_the_report(personas) -> None:
    item = review_item_create(seed=4)
    client = signed_in(personas["moderator"])
    html = client.get(f"/review/items/{item.pk}/").content.decode()
    for expected in [
        "Edited copy of a known original",
        "90%",  # calibrated probability
        "A verified original from Example Agency matches",
        "Photo: J. Doe / Example Agency",
        "https://agency.example/photos/4",
        "2024-05-02",
        "multitask",
        "ExampleCam",
        "No C2PA manifest",
        "look at what appeared over the hills",
        f"/review/items/{item.pk}/reports/1/aligned_reference.png",
        'id="swipe"',
        "Claim for review",
        "Keyboard shortcuts",
    ]:
        assert expected in html, expected
    assert 'id="decision-form"' not in html  # not claimed yet


def test_claim_then_decide_through_the_pages(personas) -> None:
    item = review_item_create()
    client = signed_in(personas["moderator"])
    response = client.post(f"/review/items/{item.pk}/claim/")
    assert response.status_code == 302
    page = client.get(f"/review/items/{item.pk}/").content.decode()
    assert 'id="decision-form"' in page
    refused = client.post(f"/review/items/{item.pk}/decide/", {"action": "remove"}, follow=True)
    assert "A rationale is required to remove." in refused.content.decode()
    assert not Decision.objects.exists()
    done = client.post(
        f"/review/items/{item.pk}/decide/",
        # "advance_shown" without "advance": the form's "then open the next item" unticked
        {"action": "label", "label": "misleading", "rationale": "", "advance_shown": "1"},
        follow=True,
    )
    html = done.content.decode()
    assert "Decision recorded: Label (misleading)." in html
    assert "decision.label" in html  # the item's audit trail
    assert Decision.objects.get().label == "misleading"


def test_second_moderator_cannot_claim_a_held_item(personas) -> None:
    item = review_item_create()
    other = personas["admin"]
    other.groups.add(Group.objects.get(name="moderator"))
    item_claim(item=item, user=personas["moderator"])
    response = signed_in(other).post(f"/review/items/{item.pk}/claim/", follow=True)
    assert "Someone else is reviewing this item" in response.content.decode()
    item.refresh_from_db()
    assert item.claimed_by == personas["moderator"]


def test_fact_checker_can_look_but_not_decide(personas) -> None:
    item = review_item_create()
    client = signed_in(personas["fact_checker"])
    assert client.get("/review/").status_code == 200
    html = client.get(f"/review/items/{item.pk}/").content.decode()
    assert "Deciding needs the moderator role" in html
    assert "Claim for review" not in html
    response = client.post(f"/review/items/{item.pk}/claim/", follow=True)
    assert "Reviewing submissions needs the moderator or admin role" in response.content.decode()
    client.post(f"/review/items/{item.pk}/decide/", {"action": "allow"})
    assert not Decision.objects.exists()
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewItem.Status.PENDING


def test_next_item_claims_the_top_one_and_releases_the_current(personas) -> None:
    low = review_item_create(seed=1, priority=1)
    high = review_item_create(seed=2, priority=5)
    client = signed_in(personas["moderator"])
    response = client.post("/review/next/")
    assert response["Location"] == f"/review/items/{high.pk}/"
    response = client.post("/review/next/", {"release": high.pk})
    assert response["Location"] == f"/review/items/{low.pk}/"
    assert ReviewItem.objects.get(pk=high.pk).status == ReviewItem.Status.PENDING


def test_images_are_served_only_through_views_with_nosniff(personas) -> None:
    item = review_item_create()
    client = signed_in(personas["moderator"])
    image = client.get(f"/review/items/{item.pk}/media")
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert "private" in image["Cache-Control"]
    assert streamed(image).startswith(b"\x89PNG")
    mask = client.get(f"/review/items/{item.pk}/reports/1/edit_mask.png")
    assert mask.status_code == 200
    assert client.get(f"/review/items/{item.pk}/reports/2/edit_mask.png").status_code == 404
    reference_id = item.submission.reports.get().document["matches"][0]["reference"]["id"]
    assert client.get(f"/review/items/{item.pk}/references/{reference_id}").status_code == 200
    unrelated = reference_create(seed=99)
    assert client.get(f"/review/items/{item.pk}/references/{unrelated.pk}").status_code == 404
    name = item.submission.media.file.name
    assert name is not None
    assert Client().get("/media/" + name).status_code in (302, 404)


def test_client_separated_moderators_never_see_other_tenants(personas, api_client_credentials):
    client_a = api_client_credentials.client
    theirs = review_item_create(seed=1, client=client_a, text="tenant A post")
    other = review_item_create(seed=2, text="tenant B post")
    moderator = personas["moderator"]
    moderator.groups.add(Group.objects.create(name=f"client:{client_a.slug}"))
    browser = signed_in(moderator)
    queue = browser.get("/review/").content.decode()
    assert "tenant A post" in queue
    assert "tenant B post" not in queue
    for url in item_urls(other):
        assert browser.get(url).status_code == 404, url
    assert browser.post(f"/review/items/{other.pk}/claim/").status_code == 404
    assert browser.get(f"/review/items/{theirs.pk}/").status_code == 200


def test_sensitive_items_are_blurred_by_default(personas, settings) -> None:
    settings.REVIEW_SENSITIVE_SOURCES = ["GraphicSNS"]
    calm = review_item_create(seed=1)
    graphic = review_item_create(seed=2, platform="GraphicSNS")
    flagged = review_item_create(seed=3, metadata={"sensitive": True})
    client = signed_in(personas["moderator"])
    assert 'class="stage blurred"' not in client.get(f"/review/items/{calm.pk}/").content.decode()
    for item in (graphic, flagged):
        html = client.get(f"/review/items/{item.pk}/").content.decode()
        assert 'class="stage blurred"' in html
        assert 'id="blur-toggle" checked' in html


def test_report_versions_are_browsable(personas) -> None:
    from tests.moderation.review_factory import report_version_add

    item = review_item_create()
    report_version_add(item, label="unaltered_copy", probability=0.05, reason="new reference")
    client = signed_in(personas["moderator"])
    current = client.get(f"/review/items/{item.pk}/").content.decode()
    assert "Unaltered copy of a known original" in current
    assert "new reference" in current
    old = client.get(f"/review/items/{item.pk}/", {"version": 1}).content.decode()
    assert "not the current one" in old
    assert "Edited copy of a known original" in old
    assert client.get(f"/review/items/{item.pk}/", {"version": 7}).status_code == 404


def test_audit_log_is_for_admins_only(personas) -> None:
    item = review_item_create()
    item_claim(item=item, user=personas["moderator"])
    assert signed_in(personas["moderator"]).get("/review/audit/").status_code == 403
    admin = signed_in(personas["admin"])
    html = admin.get("/review/audit/").content.decode()
    assert "review_item.claim" in html
    assert f"/review/items/{item.pk}/" in html
    assert (
        "review_item.claim"
        not in admin.get("/review/audit/", {"action": "decision."}).content.decode()
    )
    assert AuditLog.objects.filter(action="review_item.claim").count() == 1


def test_navigation_is_role_aware(personas) -> None:
    moderator = signed_in(personas["moderator"]).get("/").content.decode()
    assert 'href="/review/"' in moderator
    assert 'href="/review/audit/"' not in moderator
    admin = signed_in(personas["admin"]).get("/").content.decode()
    assert 'href="/review/audit/"' in admin
    outsider = signed_in(personas["outsider"]).get("/").content.decode()
    assert 'href="/review/"' not in outsider


def test_django_admin_lists_review_records_references_clients_and_users(
    personas, api_client_credentials
) -> None:
    from accounts.models import User

    item = review_item_create()
    item_claim(item=item, user=personas["moderator"])
    staff = User.objects.create_superuser(username="root", password="correct horse battery")
    client = signed_in(staff)
    for path in [
        "moderation/submission",
        "moderation/report",
        "moderation/reviewitem",
        "moderation/decision",
        "moderation/event",
        "factcheck/reference",
        "accounts/apiclient",
        "accounts/user",
    ]:
        assert client.get(f"/admin/{path}/").status_code == 200, path
    report = item.submission.reports.get()
    page = client.get(f"/admin/moderation/report/{report.pk}/change/").content.decode()
    assert "edit_mask" in page  # artifacts inline


@pytest.mark.django_db
def test_item_page_says_how_a_dense_or_mirrored_match_was_verified(personas) -> None:
    """A low-texture repost confirmed by whole-picture alignment has no matching points: the
    card must not read "0 matching points"."""
    item = review_item_create(seed=5)
    report = Report.objects.get(submission=item.submission, is_current=True)
    match = {**report.document["matches"][0], "inliers": 0, "mirrored": True}
    report.document = {**report.document, "matches": [{**match, "verified_by": "dense_alignment"}]}
    report.save(update_fields=["document"])
    shown = item_page_data(item=item, report=report)["matches"][0]
    assert shown["evidence"] == (
        "whole picture aligned (too little texture for matching points) · mirrored"
    )
    client = Client()
    client.force_login(personas["moderator"])
    html = client.get(f"/review/items/{item.pk}/").content.decode()
    assert "whole picture aligned" in html and "0 matching points" not in html
    # Aligned from the points that matched in one part (a text card's words): it says so.
    anchored = {**match, "verified_by": "dense_alignment", "inliers": 42, "mirrored": False}
    report.document = {**report.document, "matches": [anchored]}
    shown = item_page_data(item=item, report=report)["matches"][0]
    assert shown["evidence"] == "whole picture aligned from 42 matching points in one part"


def test_the_ui_names_every_verdict_label_and_no_other() -> None:
    from frontend.presenters import VERDICT_LABELS, VERDICTS
    from moderation.verdict import LABELS

    assert set(VERDICTS) == set(LABELS) and len(VERDICT_LABELS) == len(LABELS)
