"""Case pages (list, new, detail, actions, images) and the public fact-check page and feed."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from factcheck.cases.models import Case
from factcheck.cases.services import (
    ClaimInput,
    case_create,
    case_publish,
    case_rate,
    case_transition,
)

pytestmark = pytest.mark.django_db

REQUIRED_CLAIMREVIEW_FIELDS = (
    "url",
    "claimReviewed",
    "reviewRating",
    "itemReviewed",
    "author",
    "datePublished",
)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def case(personas) -> Case:
    return case_create(
        title="Shark on the highway",
        actor=personas["fact_checker"],
        claims=[
            ClaimInput(
                text="A shark swam on a flooded highway",
                claimant="@stormwatch",
                appearance_url="https://sns.example/p/1",
            )
        ],
    )


def published(case: Case, actor) -> Case:
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="altered", explanation="The shark <b>was</b> added.")
    return case_publish(case=case, actor=actor)


def jsonld_documents(html: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return [json.loads(block) for block in blocks]


def test_list_filters_and_roles(personas, case) -> None:
    page = signed_in(personas["fact_checker"]).get("/cases/?q=shark&status=new")
    assert page.status_code == 200 and b"Shark on the highway" in page.content
    assert b'href="/cases/new/"' in page.content
    empty = signed_in(personas["fact_checker"]).get("/cases/?status=published")
    assert b"No cases match" in empty.content
    moderator_page = signed_in(personas["moderator"]).get("/cases/")
    assert moderator_page.status_code == 200 and b'href="/cases/new/"' not in moderator_page.content
    assert signed_in(personas["outsider"]).get("/cases/").status_code == 403
    assert Client().get("/cases/").status_code == 302


def test_new_case_form(personas) -> None:
    client = signed_in(personas["fact_checker"])
    assert client.get("/cases/new/").status_code == 200
    response = client.post("/cases/new/", {"title": "Dam", "claim": "The dam collapsed"})
    case = Case.objects.get(title="Dam")
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert case.claims.get().text == "The dam collapsed"
    again = client.post("/cases/new/", {"title": ""})
    assert again.status_code == 200 and b"title must be" in again.content
    assert signed_in(personas["moderator"]).get("/cases/new/").status_code == 403


def test_case_page_actions_for_a_fact_checker(personas, case, make_image_bytes) -> None:
    client = signed_in(personas["fact_checker"])
    base = f"/cases/{case.pk}/do/"
    client.post(base + "comment/", {"body": "Looking into it"})
    client.post(base + "transition/", {"status": "investigating", "expected_status": "new"})
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("orig.png", make_image_bytes(width=80, height=60, seed=5))
    client.post(base + "evidence/", {"kind": "media", "media": upload, "note": "Agency original"})
    evidence = case.evidence.get()
    client.post(
        base + "verify/",
        {"evidence": evidence.pk, "source": "AP", "credit": "J. Doe", "licence": "editorial"},
    )
    client.post(base + "rate/", {"rating": "false", "explanation": "Composite image."})
    response = client.post(base + "publish/", follow=True)
    assert response.status_code == 200
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.rating) == ("published", "false")
    evidence.refresh_from_db()
    assert evidence.reference is not None and evidence.reference.credit == "J. Doe"
    html = response.content.decode()
    assert "Looking into it" in html and f"verified original #{evidence.reference_id}" in html
    assert f'href="/factchecks/{stored.slug}/"' in html
    image = client.get(f"/cases/{case.pk}/evidence/{evidence.pk}/image")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    stale = client.post(
        base + "transition/", {"status": "closed", "expected_status": "rated"}, follow=True
    )
    assert b"now &#x27;published&#x27;" in stale.content
    assert client.post(base + "nonsense/").status_code == 404


def test_moderator_cannot_rate_or_publish_from_the_page(personas, case) -> None:
    client = signed_in(personas["moderator"])
    page = client.get(f"/cases/{case.pk}/").content
    assert b'data-testid="rate-form"' not in page and b"Publish fact-check" not in page
    assert (
        client.post(
            f"/cases/{case.pk}/do/rate/", {"rating": "false", "explanation": "x"}
        ).status_code
        == 403
    )
    assert client.post(f"/cases/{case.pk}/do/publish/").status_code == 403
    assert client.post(f"/cases/{case.pk}/do/comment/", {"body": "seen"}).status_code == 302
    assert Case.objects.get(pk=case.pk).status == "new"


def test_linked_submission_shows_its_image(personas, make_image_bytes) -> None:
    from mediastore.services import media_store
    from moderation.escalation import submission_escalate
    from moderation.models import Submission

    submission = Submission.objects.create(
        source=Submission.Source.UPLOAD,
        text="Flooded airport",
        media=media_store(content=make_image_bytes(seed=9)).media,
    )
    case = submission_escalate(submission=submission, actor=personas["moderator"])
    client = signed_in(personas["fact_checker"])
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert f"/cases/{case.pk}/submissions/{submission.pk}/image" in page
    assert client.get(f"/cases/{case.pk}/submissions/{submission.pk}/image").status_code == 200
    assert client.get(f"/cases/{case.pk}/submissions/999999/image").status_code == 404


def test_a_linked_video_plays_and_seeks(personas, videos) -> None:
    from mediastore.services import media_store
    from moderation.escalation import submission_escalate
    from moderation.models import Submission

    submission = Submission.objects.create(
        source=Submission.Source.UPLOAD,
        media=media_store(content=videos["repost"], allow_video=True).media,
    )
    case = submission_escalate(submission=submission, actor=personas["moderator"])
    client = signed_in(personas["fact_checker"])
    page = client.get(f"/cases/{case.pk}/").content.decode()
    url = f"/cases/{case.pk}/submissions/{submission.pk}/image"
    assert f'<video controls preload="metadata" src="{url}"' in page
    assert f'<img src="{url}"' not in page
    part = client.get(url, HTTP_RANGE="bytes=0-99")
    assert part.status_code == 206 and part["Content-Type"] == "video/mp4"


def test_public_page_carries_valid_claimreview(personas, case, settings) -> None:
    settings.CLAIMREVIEW_ORGANIZATION_NAME = "Example Checks"
    settings.CLAIMREVIEW_ORGANIZATION_URL = "https://checks.example"
    assert Client().get("/factchecks/no-such-case/").status_code == 404
    published(case, personas["fact_checker"])
    response = Client().get(f"/factchecks/{case.slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "The shark &lt;b&gt;was&lt;/b&gt; added." in html  # explanation escaped on the page
    [review] = jsonld_documents(html)
    assert review["@context"] == "https://schema.org" and review["@type"] == "ClaimReview"
    for field in REQUIRED_CLAIMREVIEW_FIELDS:
        assert review[field], field
    assert review["url"] == f"http://testserver/factchecks/{case.slug}/"
    assert review["reviewRating"]["alternateName"] == "Altered"
    assert (
        review["reviewRating"]["ratingValue"],
        review["reviewRating"]["bestRating"],
        review["reviewRating"]["worstRating"],
    ) == (2, 5, 1)
    assert review["author"] == {
        "@type": "Organization",
        "name": "Example Checks",
        "url": "https://checks.example",
    }
    assert review["itemReviewed"]["@type"] == "Claim"
    assert review["itemReviewed"]["author"]["name"] == "@stormwatch"
    assert review["reviewBody"] == "The shark <b>was</b> added."  # exact text inside the JSON


def test_unpublished_cases_are_not_public(personas, case) -> None:
    Case.objects.filter(pk=case.pk).update(slug="secret-slug")
    assert Client().get("/factchecks/secret-slug/").status_code == 404


def test_feed_lists_published_claimreviews(personas, case) -> None:
    other = case_create(
        title="Unpublished", actor=personas["fact_checker"], claims=[ClaimInput(text="x")]
    )
    assert Client().get("/factchecks/feed.json").json()["items"] == []
    published(case, personas["fact_checker"])
    feed = Client().get("/factchecks/feed.json").json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    [item] = feed["items"]
    assert item["title"] == "Shark on the highway" and other.title not in json.dumps(feed)
    assert item["_claimreview"][0]["claimReviewed"] == "A shark swam on a flooded highway"


def test_several_claims_make_a_graph(personas, case) -> None:
    from factcheck.cases.services import claim_add

    claim_add(case=case, actor=personas["fact_checker"], claim=ClaimInput(text="Second claim"))
    published(case, personas["fact_checker"])
    [document] = jsonld_documents(Client().get(f"/factchecks/{case.slug}/").content.decode())
    assert [review["claimReviewed"] for review in document["@graph"]] == [
        "A shark swam on a flooded highway",
        "Second claim",
    ]
