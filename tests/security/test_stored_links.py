"""Stored XSS through links: a platform's metadata URL, escalated into a case and published, and
links that fact-checkers type (claims, evidence, references). Only http(s) is ever stored or
rendered as a link; anything already stored renders as text."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from factcheck.cases.models import Case, Claim, Evidence
from factcheck.cases.services import case_publish, case_rate, case_transition
from factcheck.models import Reference
from moderation.models import Report, ReviewItem, Submission
from tests.moderation.review_factory import review_item_create

pytestmark = pytest.mark.django_db

HOSTILE_URLS = [
    "javascript:alert(1)",
    " JaVaScRiPt:alert(document.cookie)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",  # scheme-relative: not an absolute http(s) URL
]
HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
SAFE_HREF = re.compile(r"^(https?://|/(?!/)|#|\?)")


def hrefs(page: str) -> list[str]:
    return [
        html.unescape(next(group for group in match.groups() if group is not None)).strip()
        for match in HREF.finditer(page)
    ]


def assert_only_safe_links(page: str) -> None:
    unsafe = [href for href in hrefs(page) if not SAFE_HREF.match(href)]
    assert not unsafe, unsafe


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def analysed_into_queue(submission: Submission) -> ReviewItem:
    """What the worker would do (kept out of this test): a current report and a review item."""
    Report.objects.create(
        submission=submission,
        version=1,
        document={"schema": "report/1", "verdict": {"label": "edited_copy", "reasons": []}},
        label="edited_copy",
        manipulation_probability=0.9,
    )
    return ReviewItem.objects.create(submission=submission)


def escalate(item: ReviewItem, moderator) -> Case:
    client = signed_in(moderator)
    assert client.post(f"/review/items/{item.pk}/claim/").status_code == 302
    response = client.post(
        f"/review/items/{item.pk}/decide/",
        {"action": "escalate", "rationale": "Needs a fact-check."},
        follow=True,
    )
    assert "Decision recorded: Escalate" in response.content.decode()
    return Case.objects.get(case_submissions__submission=item.submission)


def publish(case: Case, actor) -> Case:
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="false", explanation="Made up.")
    return case_publish(case=case, actor=actor)


def pages_of(case: Case, personas) -> list[str]:
    detail = signed_in(personas["fact_checker"]).get(f"/cases/{case.pk}/")
    assert detail.status_code == 200
    pages = [detail.content.decode()]
    if case.slug:
        public = Client().get(f"/factchecks/{case.slug}/")
        assert public.status_code == 200
        pages.append(public.content.decode())
    return pages


def test_api_client_metadata_url_escalated_and_published_is_never_a_link(
    personas, api_client_credentials, make_image_bytes
) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_credentials.token}")
    response = api.post(
        "/api/v1/submissions/",
        {
            "media": SimpleUploadedFile("p.png", make_image_bytes(seed=3)),
            "text": "Shark swimming on the flooded highway",
            "metadata": json.dumps({"url": "javascript:alert(1)", "author": {"name": "@x"}}),
        },
    )
    if response.status_code == 400:  # refused at intake: then nothing may have been stored
        assert response.json().get("code"), response.json()
        assert not Submission.objects.exists()
        return
    assert response.status_code == 202, response.content
    submission = Submission.objects.get(pk=response.json()["id"])
    case = escalate(analysed_into_queue(submission), personas["moderator"])
    claim = case.claims.get()
    assert claim.appearance_url == ""  # dropped, not copied into the claim
    publish(case, personas["fact_checker"])
    for page in pages_of(case, personas):
        assert_only_safe_links(page)
        assert "javascript:" not in page.lower()


@pytest.mark.parametrize("hostile", HOSTILE_URLS)
def test_stored_metadata_url_is_dropped_on_escalation(personas, hostile: str) -> None:
    """Rows stored before intake checked metadata (or by any other path)."""
    item = review_item_create(
        seed=4, metadata={"url": hostile, "permalink": hostile, "author": {"name": "@x"}}
    )
    case = escalate(item, personas["moderator"])
    assert case.claims.get().appearance_url == ""
    publish(case, personas["fact_checker"])
    for page in pages_of(case, personas):
        assert_only_safe_links(page)


def test_escalation_keeps_an_http_link_and_falls_back_to_the_permalink(personas) -> None:
    item = review_item_create(
        seed=5, metadata={"url": "javascript:alert(1)", "permalink": "https://sns.example/p/5"}
    )
    case = escalate(item, personas["moderator"])
    assert case.claims.get().appearance_url == "https://sns.example/p/5"
    publish(case, personas["fact_checker"])
    pages = pages_of(case, personas)
    for page in pages:
        assert 'href="https://sns.example/p/5"' in page
    jsonld = re.search(r'<script type="application/ld\+json">(.*?)</script>', pages[1], re.S)
    assert jsonld is not None
    document = json.loads(jsonld.group(1))
    assert document["itemReviewed"]["appearance"][0]["url"] == "https://sns.example/p/5"


@pytest.mark.parametrize("hostile", HOSTILE_URLS)
def test_links_already_in_the_database_render_as_text(personas, hostile: str) -> None:
    item = review_item_create(seed=6, metadata={"author": {"name": "@x"}})
    case = escalate(item, personas["moderator"])
    Claim.objects.filter(case=case).update(appearance_url=hostile)
    Evidence.objects.create(case=case, kind="link", url=hostile, added_by=personas["fact_checker"])
    publish(case, personas["fact_checker"])
    pages = pages_of(case, personas)
    for page in pages:
        assert_only_safe_links(page)
    assert html.escape(hostile.strip()[:20]) in pages[0]  # still shown, as text
    jsonld = re.search(r'<script type="application/ld\+json">(.*?)</script>', pages[1], re.S)
    assert jsonld is not None
    assert "appearance" not in json.loads(jsonld.group(1))["itemReviewed"]


def test_reference_link_in_a_report_renders_as_text_on_the_item_page(personas) -> None:
    item = review_item_create(seed=7)
    report = Report.objects.get(submission=item.submission)
    report.document["matches"][0]["reference"]["url"] = "javascript:alert(1)"
    report.save(update_fields=["document"])
    page = signed_in(personas["moderator"]).get(f"/review/items/{item.pk}/").content.decode()
    assert_only_safe_links(page)
    assert "javascript:alert(1)" in page  # shown as text


@pytest.mark.parametrize("hostile", HOSTILE_URLS)
def test_fact_checker_typing_a_hostile_link_is_refused_on_the_pages(personas, hostile: str) -> None:
    client = signed_in(personas["fact_checker"])
    new = client.post(
        "/cases/new/",
        {"title": "T", "claim": "A claim", "appearance_url": hostile},
        follow=True,
    )
    assert "appearance_url: only http:// and https:// links" in html.unescape(new.content.decode())
    assert not Case.objects.exists()
    case = Case.objects.create(title="Open", status="new", created_by=personas["fact_checker"])
    claim = client.post(
        f"/cases/{case.pk}/do/claim/", {"text": "A claim", "appearance_url": hostile}, follow=True
    )
    assert "appearance_url: only http:// and https:// links" in html.unescape(
        claim.content.decode()
    )
    evidence = client.post(
        f"/cases/{case.pk}/do/evidence/", {"kind": "link", "url": hostile}, follow=True
    )
    assert "url: only http:// and https:// links" in html.unescape(evidence.content.decode())
    assert not Claim.objects.exists() and not Evidence.objects.exists()


@pytest.mark.parametrize("hostile", HOSTILE_URLS)
def test_fact_checker_typing_a_hostile_link_is_refused_by_the_api(
    personas, hostile: str, make_image_bytes
) -> None:
    api = APIClient()
    api.force_authenticate(personas["fact_checker"])
    created = api.post(
        "/api/v1/cases/",
        {"title": "T", "claims": [{"text": "A claim", "appearance_url": hostile}]},
        format="json",
    )
    assert created.status_code == 400, created.content
    assert created.json()["code"] == "url_not_http", created.json()
    case = Case.objects.create(title="Open", status="new", created_by=personas["fact_checker"])
    for path, body in [
        ("claims", {"text": "A claim", "appearance_url": hostile}),
        ("evidence", {"kind": "link", "url": hostile}),
    ]:
        response = api.post(f"/api/v1/cases/{case.pk}/{path}/", body, format="json")
        assert response.status_code == 400, (path, response.content)
        assert response.json()["code"] == "url_not_http", (path, response.json())
    admin = APIClient()
    admin.force_authenticate(personas["admin"])
    reference = admin.post(
        "/api/v1/references/",
        {
            "media": SimpleUploadedFile("r.png", make_image_bytes(seed=8)),
            "source": "Agency",
            "url": hostile,
        },
    )
    assert reference.status_code == 400, reference.content
    assert reference.json()["code"] == "url_not_http", reference.json()
    assert not Claim.objects.exists() and not Evidence.objects.exists()
    assert not Reference.objects.exists()
