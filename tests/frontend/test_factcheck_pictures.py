"""The public fact-check page's pictures (issue 18): the verified original and the copy with its
edits marked, public only while the case is published and only what the page shows; the
wellness blur follows the item page's rule.

The attacker's tests come first: a draft or unpublished case, another case's pictures, an
unlinked submission, an original nothing shown matched, path tricks."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.test import Client, override_settings
from PIL import Image

from factcheck.cases.models import Case
from factcheck.cases.services import case_correct, case_publish, case_rate, case_transition
from mediastore.renditions import MAX_DISPLAY_SIDE
from mediastore.services import media_store
from mediastore.serving import MEDIA_CONTENT_SECURITY_POLICY
from moderation import rendering
from moderation.case_pictures import PUBLIC_PICTURES_SHOWN, case_pictures
from moderation.escalation import case_submission_link, submission_escalate
from moderation.models import Report, ReportArtifact, ReviewItem
from tests.frontend.test_renditions import big_photo
from tests.moderation.review_factory import (
    artifact_save,
    edit_mask,
    edited,
    reference_create,
    report_version_add,
    review_item_create,
    scene,
)

pytestmark = pytest.mark.django_db


def item_with_overlay(seed: int, **options) -> ReviewItem:
    """A review item whose report has the edit overlay the pipeline draws."""
    item = review_item_create(seed=seed, **options)
    report = Report.objects.get(submission=item.submission, is_current=True)
    if report.document["matches"]:
        overlay = rendering.edit_overlay(edited(scene(seed)), edit_mask())
        artifact_save(report, ReportArtifact.Kind.EDIT_OVERLAY, overlay)
    return item


def escalated(item: ReviewItem, personas) -> Case:
    return submission_escalate(submission=item.submission, actor=personas["moderator"])


def publish(case: Case, personas) -> Case:
    actor = personas["fact_checker"]
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="altered", explanation="The red box was added.")
    return case_publish(case=case, actor=actor)


def urls(case: Case, item: ReviewItem) -> dict[str, str]:
    reference_id = item.submission.reports.get().document["matches"][0]["reference"]["id"]
    base = f"/factchecks/{case.slug}"
    return {
        "copy": f"{base}/copies/{item.submission_id}",
        "edits": f"{base}/copies/{item.submission_id}/edits.png",
        "original": f"{base}/originals/{reference_id}",
    }


@pytest.fixture
def published_item(personas) -> tuple[Case, ReviewItem]:
    item = item_with_overlay(61)
    return publish(escalated(item, personas), personas), item


# --- the attacker's tests ---------------------------------------------------------------------


def test_a_case_that_is_not_published_shows_no_picture(personas) -> None:
    item = item_with_overlay(62)
    case = escalated(item, personas)
    # A draft has no public address; give it one to be sure the status, not the slug, decides.
    Case.objects.filter(pk=case.pk).update(slug="draft-case")
    case.refresh_from_db()
    assert Client().get("/factchecks/draft-case/").status_code == 404
    for url in urls(case, item).values():
        assert Client().get(url).status_code == 404, url


def test_pictures_go_when_a_corrected_case_is_withdrawn(personas, published_item) -> None:
    case, item = published_item
    addresses = urls(case, item)
    case = case_correct(
        case=case,
        actor=personas["fact_checker"],
        rating="false",
        explanation="The red box and the sky were added.",
        note="The sky was replaced too.",
    )
    for url in addresses.values():  # corrected and republished: still public
        assert Client().get(url).status_code == 200, url
    case_transition(case=case, actor=personas["fact_checker"], to_status="closed")
    for url in addresses.values():
        assert Client().get(url).status_code == 404, url
    assert Client().get(f"/factchecks/{case.slug}/").status_code == 404


def test_another_cases_pictures_are_not_served_under_this_case(personas, published_item) -> None:
    case, _item = published_item
    other_item = item_with_overlay(63)
    other_case = publish(escalated(other_item, personas), personas)
    theirs = urls(other_case, other_item)
    for url in theirs.values():
        assert Client().get(url).status_code == 200
    base = f"/factchecks/{case.slug}"
    for url in theirs.values():
        borrowed = base + url.removeprefix(f"/factchecks/{other_case.slug}")
        assert Client().get(borrowed).status_code == 404, borrowed


def test_unlinked_submissions_and_unshown_originals_are_not_found(personas, published_item) -> None:
    case, item = published_item
    unlinked = item_with_overlay(64)
    evidence_only = reference_create(seed=65)  # exists, but no shown report matched it
    base = f"/factchecks/{case.slug}"
    for url in [
        f"{base}/copies/{unlinked.submission_id}",
        f"{base}/copies/{unlinked.submission_id}/edits.png",
        f"{base}/originals/{evidence_only.pk}",
        f"{base}/originals/{unlinked.submission.reports.get().document['matches'][0]['reference']['id']}",
        f"{base}/copies/{item.submission_id + 1000}",
    ]:
        assert Client().get(url).status_code == 404, url


def test_path_tricks_and_odd_ids_are_not_found(published_item) -> None:
    case, item = published_item
    base = f"/factchecks/{case.slug}"
    for url in [
        f"{base}/copies/../../../review/items/{item.pk}/media",
        f"{base}/copies/%2e%2e/%2e%2e/review/items/{item.pk}/media",
        f"{base}/copies/{item.submission_id}/../edits.png",
        f"{base}/copies/-{item.submission_id}",
        f"{base}/copies/{item.submission_id}.png",
        f"{base}/copies/abc",
        f"{base}/copies/{item.submission_id}%00",
        f"{base}/copies/99999999999999999999999",
        f"{base}/originals/99999999999999999999999",
        f"{base}/copies/{item.submission_id}/edit_mask.png",
        f"{base}/copies/{item.submission_id}/forensic_overlay.png",
        f"/factchecks/{case.slug.upper()}x/copies/{item.submission_id}",
    ]:
        assert Client().get(url).status_code in (400, 404), url


def test_only_the_pictures_shown_are_served(personas) -> None:
    """Past PUBLIC_PICTURES_SHOWN linked submissions, the rest are neither shown nor served."""
    items = [item_with_overlay(70 + n) for n in range(PUBLIC_PICTURES_SHOWN + 1)]
    case = escalated(items[0], personas)
    for extra in items[1:]:
        case_submission_link(case=case, submission=extra.submission, actor=personas["moderator"])
    publish(case, personas)
    page = Client().get(f"/factchecks/{case.slug}/").content.decode()
    for shown in items[:PUBLIC_PICTURES_SHOWN]:
        assert f"/copies/{shown.submission_id}/edits.png" in page
    hidden = items[-1]
    assert f"/copies/{hidden.submission_id}" not in page
    assert Client().get(f"/factchecks/{case.slug}/copies/{hidden.submission_id}").status_code == 404


def test_only_posts_and_gets_are_answered(published_item) -> None:
    case, item = published_item
    for url in urls(case, item).values():
        assert Client().post(url).status_code == 405


# --- what the page shows ----------------------------------------------------------------------


def test_the_page_shows_the_original_and_the_marked_copy(published_item) -> None:
    case, item = published_item
    addresses = urls(case, item)
    page = Client().get(f"/factchecks/{case.slug}/")
    html = page.content.decode()
    # Display-sized renditions on the page, the files one click away.
    assert f'src="{addresses["original"]}?display=1"' in html
    assert f'src="{addresses["edits"]}?display=1"' in html
    assert f'href="{addresses["copy"]}"' in html  # the copy without marks
    assert f'href="{addresses["original"]}"' in html
    assert "Example Agency EA-00061" in html and "Photo: J. Doe / Example Agency" in html
    assert "data-sensitive" not in html


def test_served_pictures_are_sandboxed_images(published_item) -> None:
    case, item = published_item
    for url in urls(case, item).values():
        for query in ({}, {"display": "1"}):  # small images: the display copy is the file
            response = Client().get(url, query)
            assert response.status_code == 200
            assert response["Content-Type"] == "image/png"
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Security-Policy"] == MEDIA_CONTENT_SECURITY_POLICY
            assert response.getvalue().startswith(b"\x89PNG")


def test_big_pictures_are_shown_display_sized(personas, published_item) -> None:
    case, item = published_item
    submission = item.submission
    submission.media = media_store(content=big_photo()).media
    submission.save(update_fields=["media"])
    url = urls(case, item)["copy"]
    shown = Client().get(url, {"display": "1"})
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert shown["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(shown.getvalue())).size == (
        MAX_DISPLAY_SIDE,
        MAX_DISPLAY_SIDE // 2,
    )
    whole = Client().get(url)
    assert Image.open(io.BytesIO(whole.getvalue())).size == (2400, 1200)


def test_a_missing_file_is_not_found_not_an_error(published_item) -> None:
    case, item = published_item
    default_storage.delete(item.submission.media.file.name)
    url = urls(case, item)["copy"]
    assert Client().get(url).status_code == 404
    assert Client().get(url, {"display": "1"}).status_code == 404


def test_the_latest_report_decides_what_is_shown(personas, published_item) -> None:
    """A newer report without a match: no original shown, and the old one is no longer served."""
    case, item = published_item
    old = urls(case, item)
    newer = report_version_add(item, label="no_evidence", probability=0.1, reason="recheck")
    newer.document = {**newer.document, "matches": []}
    newer.save(update_fields=["document"])
    (picture,) = case_pictures(case)
    assert picture.report == newer and picture.original is None and picture.edit_overlay is None
    html = Client().get(f"/factchecks/{case.slug}/").content.decode()
    assert f'src="{old["copy"]}?display=1"' in html
    assert "/originals/" not in html
    assert Client().get(old["original"]).status_code == 404
    assert Client().get(old["edits"]).status_code == 404
    assert Client().get(old["copy"]).status_code == 200


def test_a_copy_without_a_match_is_shown_alone(personas) -> None:
    item = item_with_overlay(66, label="likely_manipulated", with_match=False)
    case = publish(escalated(item, personas), personas)
    html = Client().get(f"/factchecks/{case.slug}/").content.decode()
    assert f'src="/factchecks/{case.slug}/copies/{item.submission_id}?display=1"' in html
    assert "/originals/" not in html and "edits.png" not in html


def test_sensitive_content_opens_blurred(personas) -> None:
    flagged = item_with_overlay(67, metadata={"sensitive": True})
    case = publish(escalated(flagged, personas), personas)
    html = Client().get(f"/factchecks/{case.slug}/").content.decode()
    assert f'data-testid="pictures-{flagged.submission_id}" data-sensitive' in html
    assert "picture-set blurred" in html and "Show the pictures" in html


def test_explicit_regions_blur_the_set(personas, published_item) -> None:
    """The analysis found explicit content (blurred for everyone on the item page)."""
    case, item = published_item
    report = item.submission.reports.get()
    report.document = {**report.document, "sensitive_regions": [{"bbox": [10, 10, 60, 80]}]}
    report.save(update_fields=["document"])
    html = Client().get(f"/factchecks/{case.slug}/").content.decode()
    assert f'data-testid="pictures-{item.submission_id}" data-sensitive' in html


@override_settings(REVIEW_SENSITIVE_LABELS=["edited_copy"])
def test_a_sensitive_label_blurs_as_on_the_item_page(personas, published_item) -> None:
    case, item = published_item
    html = Client().get(f"/factchecks/{case.slug}/").content.decode()
    assert f'data-testid="pictures-{item.submission_id}" data-sensitive' in html


@override_settings(REVIEW_SENSITIVE_SOURCES=["ExampleSNS"])
def test_a_sensitive_source_blurs_as_on_the_item_page(personas, published_item) -> None:
    case, item = published_item
    html = Client().get(f"/factchecks/{case.slug}/").content.decode()
    assert f'data-testid="pictures-{item.submission_id}" data-sensitive' in html
