"""Case forms without traps (issue 18, item 5): evidence kind inferred, references picked by
search (bad ids give a form error, never a 404), no default rating and no rating form where
rating is refused, assignment defaults to the signed-in user, the timeline newest first, and
published fact-checks corrected and republished (ClaimReview dateModified, datePublished kept).
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from accounts.models import AuditLog
from factcheck.cases.models import Case, Evidence
from factcheck.cases.services import (
    CaseError,
    CasePermissionDenied,
    case_correct,
    case_publish,
    case_rate,
    case_transition,
)
from tests.moderation.review_factory import reference_create

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def act(client: Client, case: Case, action: str, data: dict, **extra):
    return client.post(f"/cases/{case.pk}/do/{action}/", data, follow=True, **extra)


def published(case: Case, actor) -> Case:
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="altered", explanation="The shark was added.")
    return case_publish(case=case, actor=actor)


def jsonld(html: str) -> dict:
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert block is not None
    return json.loads(block.group(1))


# Evidence: the kind follows from what is given.


def test_an_upload_without_a_chosen_kind_is_media_evidence(personas, case, make_image_bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("photo.png", make_image_bytes(), content_type="image/png")
    response = act(signed_in(personas["fact_checker"]), case, "evidence", {"media": upload})
    assert response.status_code == 200
    assert "Evidence added." in messages_of(response)
    evidence = case.evidence.get()
    assert evidence.kind == Evidence.Kind.MEDIA and evidence.media_id is not None
    assert evidence.reference_id is None  # an upload is never a verified original by itself


def test_the_evidence_kind_is_inferred_from_link_note_and_reference(personas, case):
    client = signed_in(personas["fact_checker"])
    act(client, case, "evidence", {"url": "https://agency.example/story"})
    act(client, case, "evidence", {"note": "Called the agency."})
    reference = reference_create(seed=3)
    act(client, case, "evidence", {"reference": str(reference.pk)})
    kinds = list(case.evidence.order_by("id").values_list("kind", flat=True))
    assert kinds == ["link", "note", "reference"]


def test_a_chosen_kind_is_kept(personas, case):
    act(
        signed_in(personas["fact_checker"]),
        case,
        "evidence",
        {"kind": "note", "url": "https://agency.example/x", "note": "Background"},
    )
    assert case.evidence.get().kind == Evidence.Kind.NOTE


def test_empty_or_ambiguous_evidence_is_a_form_error(personas, case, make_image_bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = signed_in(personas["fact_checker"])
    empty = act(client, case, "evidence", {"kind": ""})
    assert empty.status_code == 200
    assert any("add a file, a reference, a link or a note" in m for m in messages_of(empty))
    reference = reference_create(seed=4)
    upload = SimpleUploadedFile("photo.png", make_image_bytes(), content_type="image/png")
    both = act(client, case, "evidence", {"reference": str(reference.pk), "media": upload})
    assert any("one at a time" in m for m in messages_of(both))
    assert not case.evidence.exists()


@pytest.mark.parametrize("typed", ["abc", "999999", "1e3", "#", "12 OR 1=1", "-1", "a\x00b", "٣"])
def test_a_bad_reference_is_a_form_error_not_a_404(personas, case, typed):
    response = act(signed_in(personas["fact_checker"]), case, "evidence", {"reference": typed})
    assert response.status_code == 200
    assert response.redirect_chain == [(f"/cases/{case.pk}/", 302)]
    assert any("verified original" in m for m in messages_of(response))
    assert not case.evidence.exists()


def test_a_reference_is_found_by_its_external_id_or_hash_id(personas, case):
    client = signed_in(personas["fact_checker"])
    reference = reference_create(seed=5)
    act(client, case, "evidence", {"reference": reference.external_id})
    act(client, case, "evidence", {"reference": f"#{reference.pk}"})
    assert list(case.evidence.values_list("reference_id", flat=True)) == [reference.pk] * 2


def test_an_external_id_shared_by_two_references_asks_for_the_id(personas, case):
    first, second = reference_create(seed=6), reference_create(seed=7)
    second.external_id = first.external_id
    second.save(update_fields=["external_id"])
    response = act(
        signed_in(personas["fact_checker"]), case, "evidence", {"reference": first.external_id}
    )
    assert any("pick one" in m for m in messages_of(response))
    assert not case.evidence.exists()


@pytest.mark.parametrize("action", ["verify", "remove-reference"])
@pytest.mark.parametrize("evidence", ["abc", "", "999999"])
def test_a_bad_evidence_id_is_a_form_error(personas, case, action, evidence):
    response = act(
        signed_in(personas["admin"]),
        case,
        action,
        {"evidence": evidence, "source": "X", "reason": "y"},
    )
    assert response.status_code == 200
    assert any("no evidence" in m for m in messages_of(response))


def test_evidence_of_another_case_is_not_reachable(personas, case, make_image_bytes):
    from factcheck.cases.curation import evidence_add
    from factcheck.cases.services import case_create

    other = case_create(title="Other", actor=personas["fact_checker"])
    foreign = evidence_add(
        case=other, actor=personas["fact_checker"], kind="media", content=make_image_bytes()
    )
    response = act(
        signed_in(personas["admin"]), case, "verify", {"evidence": foreign.pk, "source": "X"}
    )
    assert any("no evidence" in m for m in messages_of(response))
    foreign.refresh_from_db()
    assert foreign.reference_id is None


# Reference search (fills the reference field).


def test_reference_search_by_external_id_caption_and_id(personas):
    client = signed_in(personas["fact_checker"])
    reference = reference_create(seed=8)
    other = reference_create(seed=9)
    other.caption = "A flooded highway in Houston"
    other.save(update_fields=["caption"])
    found = client.get("/cases/references/", {"q": "ea-00008"}).json()["results"]
    assert [hit["id"] for hit in found] == [reference.pk]
    assert found[0]["external_id"] == "EA-00008" and found[0]["source"] == "Example Agency"
    by_caption = client.get("/cases/references/", {"q": "flooded"}).json()["results"]
    assert [hit["id"] for hit in by_caption] == [other.pk]
    by_id = client.get("/cases/references/", {"q": f"#{other.pk}"}).json()["results"]
    assert by_id[0]["id"] == other.pk
    assert client.get("/cases/references/", {"q": " "}).json()["results"] == []
    assert client.get("/cases/references/", {"q": "%' OR 1=1"}).json()["results"] == []


def test_reference_search_needs_the_right_to_add_evidence(personas):
    reference_create(seed=10)
    assert Client().get("/cases/references/?q=EA").status_code == 302
    assert signed_in(personas["outsider"]).get("/cases/references/?q=EA").status_code == 403
    assert signed_in(personas["moderator"]).get("/cases/references/?q=EA").status_code == 403
    assert signed_in(personas["fact_checker"]).post("/cases/references/").status_code == 405


# Rating: no default, not offered where refused.


def test_no_rating_form_on_a_new_case_and_no_default_rating(personas, case):
    client = signed_in(personas["fact_checker"])
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="rate-form"' not in page
    assert "cannot be rated" in page
    case_transition(case=case, actor=personas["fact_checker"], to_status="investigating")
    page = client.get(f"/cases/{case.pk}/").content.decode()
    select = re.search(r'<select id="r-rating"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None and "required" in page[select.start() : select.start() + 80]
    selected = re.findall(r'<option value="([^"]*)" selected', select.group(1))
    assert selected == [""]  # the placeholder: no rating is chosen for the fact-checker
    missing = act(client, case, "rate", {"rating": "", "explanation": "Because."})
    assert any("unknown rating" in m for m in messages_of(missing))
    assert Case.objects.get(pk=case.pk).rating == ""


def test_a_case_without_claim_offers_no_rating(personas):
    from factcheck.cases.services import case_create

    bare = case_create(title="No claim yet", actor=personas["fact_checker"])
    case_transition(case=bare, actor=personas["fact_checker"], to_status="investigating")
    page = signed_in(personas["fact_checker"]).get(f"/cases/{bare.pk}/").content.decode()
    assert 'data-testid="rate-form"' not in page and "add the claim being rated first" in page


def test_assignment_defaults_to_the_signed_in_user(personas, case):
    page = signed_in(personas["admin"]).get(f"/cases/{case.pk}/").content.decode()
    select = re.search(r'<select id="a-user"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None
    assert re.findall(r"<option[^>]*selected[^>]*>([^<]*)<", select.group(1)) == ["admin"]


def test_the_timeline_is_newest_first_without_a_scroll_box(personas, case):
    actor = personas["fact_checker"]
    case_transition(case=case, actor=actor, to_status="investigating")
    page = signed_in(actor).get(f"/cases/{case.pk}/").content.decode()
    timeline = re.search(r'<ol class="timeline"[^>]*>(.*?)</ol>', page, re.S)
    assert timeline is not None
    words = re.findall(r'data-kind="([^"]+)"', timeline.group(1))
    assert words[0] == "status" and words[-1] == "create"
    css = open("frontend/static/frontend/cases.css").read()  # noqa: SIM115
    assert "max-height: 420px" not in css


# Corrections of published fact-checks.


def test_a_published_fact_check_is_corrected_and_republished(personas, case):
    actor = personas["fact_checker"]
    published(case, actor)
    first_published = Case.objects.get(pk=case.pk).published_at
    before = jsonld(Client().get(f"/factchecks/{case.slug}/").content.decode())
    assert "dateModified" not in before
    page = signed_in(actor).get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="correct-form"' in page and 'data-testid="rate-form"' not in page
    response = act(
        signed_in(actor),
        case,
        "correct",
        {
            "rating": "false",
            "explanation": "The shark was added; the road was never flooded.",
            "note": "The road was not flooded either.",
        },
    )
    assert any("republished" in m for m in messages_of(response))
    stored = Case.objects.get(pk=case.pk)
    assert stored.status == "published" and stored.published_at == first_published
    assert (stored.rating, stored.rating_value) == ("false", 1)
    assert stored.corrected_at is not None and stored.correction_note
    after = jsonld(Client().get(f"/factchecks/{case.slug}/").content.decode())
    assert after["datePublished"] == before["datePublished"]
    assert after["dateModified"] == stored.corrected_at.isoformat()
    assert after["reviewRating"]["ratingValue"] == 1
    public = Client().get(f"/factchecks/{case.slug}/").content.decode()
    assert "The road was not flooded either." in public
    entry = stored.timeline.order_by("-id").first()
    assert entry is not None and entry.kind == "correct"
    assert entry.data["before"]["rating"] == "altered" and entry.data["after"]["rating"] == "false"
    assert AuditLog.objects.filter(action="case.correct", target_id=str(case.pk)).exists()


def test_corrections_are_refused_when_they_should_be(personas, case):
    actor = personas["fact_checker"]
    with pytest.raises(CaseError, match="only a published"):
        case_correct(case=case, actor=actor, rating="false", explanation="x", note="y")
    published(case, actor)
    with pytest.raises(CaseError, match="say what was corrected"):
        case_correct(case=case, actor=actor, rating="false", explanation="x", note=" ")
    with pytest.raises(CaseError, match="unknown rating"):
        case_correct(case=case, actor=actor, rating="", explanation="x", note="y")
    with pytest.raises(CasePermissionDenied):
        case_correct(
            case=case, actor=personas["moderator"], rating="false", explanation="x", note="y"
        )
    moderator = act(
        signed_in(personas["moderator"]),
        case,
        "correct",
        {"rating": "false", "explanation": "x", "note": "y"},
    )
    assert moderator.status_code == 403
    stale = Case.objects.get(pk=case.pk)
    case_transition(case=case, actor=actor, to_status="closed")
    with pytest.raises(CaseError):
        case_correct(case=stale, actor=actor, rating="false", explanation="x", note="y")
    assert Case.objects.get(pk=case.pk).rating == "altered"


def test_publishing_again_keeps_the_first_publication_date(personas, case):
    actor = personas["fact_checker"]
    published(case, actor)
    first = Case.objects.get(pk=case.pk).published_at
    for status in ("closed", "investigating"):
        case_transition(case=case, actor=actor, to_status=status)
    case_rate(case=case, actor=actor, rating="false", explanation="Re-examined.")
    case_publish(case=case, actor=actor)
    stored = Case.objects.get(pk=case.pk)
    assert stored.published_at == first and stored.corrected_at is not None
    document = jsonld(Client().get(f"/factchecks/{stored.slug}/").content.decode())
    assert document["datePublished"] == first.date().isoformat()
    assert document["dateModified"] == stored.corrected_at.isoformat()
