"""Cases API: listing with filters, create by hand, actions, roles (escalation through the API:
tests/moderation/test_escalation.py)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from factcheck.cases.models import Case
from factcheck.cases.services import ClaimInput, case_create

pytestmark = pytest.mark.django_db


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_create_by_hand_and_retrieve(personas) -> None:
    api = api_as(personas["fact_checker"])
    response = api.post(
        "/api/v1/cases/",
        {
            "title": "Moon photo",
            "claims": [
                {
                    "text": "The moon landing photo was shot in a studio",
                    "claimant": "blog",
                    "language": "en",
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "new" and body["claims"][0]["claimant"] == "blog"
    detail = api.get(f"/api/v1/cases/{body['id']}/").json()
    assert [entry["kind"] for entry in detail["timeline"]] == ["create", "claim_add"]
    assert api.post("/api/v1/cases/", {}, format="json").status_code == 400


def test_outsiders_and_anonymous_see_nothing(personas, case) -> None:
    assert APIClient().get("/api/v1/cases/").status_code in (401, 403)
    assert api_as(personas["outsider"]).get("/api/v1/cases/").status_code == 403
    assert api_as(personas["moderator"]).get(f"/api/v1/cases/{case.pk}/").status_code == 200


def test_full_flow_rate_publish_claimreview(personas, case) -> None:
    api = api_as(personas["fact_checker"])
    url = f"/api/v1/cases/{case.pk}/"
    assert api.get(url + "claimreview/").status_code == 404
    assert api.post(url + "transition/", {"status": "rated"}, format="json").status_code == 400
    assert (
        api.post(url + "transition/", {"status": "investigating"}, format="json").json()["status"]
        == "investigating"
    )
    bad = api.post(url + "rate/", {"rating": "nonsense", "explanation": "x"}, format="json")
    assert bad.status_code == 400 and "unknown rating" in bad.json()["detail"]
    rated = api.post(url + "rate/", {"rating": "false", "explanation": "No shark."}, format="json")
    assert rated.json()["rating_value"] == 1
    published = api.post(url + "publish/").json()
    assert published["status"] == "published"
    assert published["links"]["public"] == f"/factchecks/{published['slug']}/"
    response = api.get(url + "claimreview/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/ld+json")
    review = response.json()
    assert review["@type"] == "ClaimReview"
    assert review["claimReviewed"] == "A shark swam on a flooded highway in Houston"
    assert review["reviewRating"] == {
        "@type": "Rating",
        "ratingValue": 1,
        "bestRating": 5,
        "worstRating": 1,
        "alternateName": "False",
    }
    assert review["url"] == f"http://testserver/factchecks/{published['slug']}/"
    assert review["itemReviewed"]["author"]["name"] == "@stormwatch"
    assert review["itemReviewed"]["appearance"][0]["url"] == "https://sns.example/p/1"


def test_conflicting_transition_answers_409(personas, case) -> None:
    api = api_as(personas["fact_checker"])
    url = f"/api/v1/cases/{case.pk}/transition/"
    moved = api.post(url, {"status": "investigating", "expected_status": "new"}, format="json")
    assert moved.status_code == 200
    # A second person still looking at the "new" case tries to close it.
    stale = api.post(url, {"status": "closed", "expected_status": "new"}, format="json")
    assert stale.status_code == 409 and "now 'investigating'" in stale.json()["detail"]
    assert Case.objects.get(pk=case.pk).status == "investigating"


def test_comments_evidence_assign_and_claims(personas, case, make_image_bytes) -> None:
    api = api_as(personas["fact_checker"])
    url = f"/api/v1/cases/{case.pk}/"
    assert api.post(url + "comments/", {"body": "Checking"}, format="json").status_code == 201
    assert (
        api_as(personas["moderator"])
        .post(url + "comments/", {"body": "Thanks"}, format="json")
        .status_code
        == 201
    )
    assert [c["author"] for c in api.get(url + "comments/").json()] == ["fact_checker", "moderator"]
    note = api.post(url + "evidence/", {"kind": "note", "note": "2011 photo"}, format="json")
    assert note.status_code == 201
    upload = api.post(
        url + "evidence/",
        {"kind": "media", "media": _upload(make_image_bytes(width=96, height=64, seed=3))},
        format="multipart",
    )
    assert upload.status_code == 201 and upload.json()["media_sha256"]
    broken = api.post(
        url + "evidence/", {"kind": "media", "media": _upload(b"junk")}, format="multipart"
    )
    assert broken.status_code == 400
    assert (
        api.post(
            url + "evidence/", {"kind": "reference", "reference": 12345}, format="json"
        ).status_code
        == 400
    )
    assert len(api.get(url + "evidence/").json()) == 2
    assigned = api.post(url + "assign/", {"username": "admin"}, format="json")
    assert assigned.json()["assignees"] == ["admin"]
    assert api.post(url + "assign/", {"username": "ghost"}, format="json").status_code == 400
    claim = api.post(url + "claims/", {"text": "Second claim", "language": "en"}, format="json")
    assert claim.status_code == 201
    assert (
        api_as(personas["moderator"])
        .post(url + "claims/", {"text": "x"}, format="json")
        .status_code
        == 403
    )


def _upload(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("evidence.png", content, content_type="image/png")


def test_list_filters_and_search(personas) -> None:
    actor = personas["fact_checker"]
    first = case_create(
        title="Flooded airport",
        actor=actor,
        claims=[ClaimInput(text="Planes under water", claimant="TikTok user")],
    )
    second = case_create(title="Politician quote", actor=actor, assignees=[personas["admin"]])
    api = api_as(actor)

    def ids(query: str) -> list[int]:
        return [row["id"] for row in api.get(f"/api/v1/cases/?{query}").json()["results"]]

    assert ids("") == [second.pk, first.pk]
    assert ids("q=under+water") == [first.pk]
    assert ids("q=tiktok") == [first.pk]
    assert ids("assignee=admin") == [second.pk]
    assert ids("assignee=nobody") == []
    assert ids("status=new") == [second.pk, first.pk]
    assert ids("status=published") == []
    assert ids("rating=false") == []
    assert ids("created_from=2000-01-01&created_to=2999-01-01") == [second.pk, first.pk]
    assert ids("created_to=2000-01-01") == []
    assert api.get("/api/v1/cases/?created_from=yesterday").status_code == 400
