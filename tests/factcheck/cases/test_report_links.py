"""A published case's verified original makes a later edited copy link the case: the evidence
becomes a reference, the copy matches it, cases_for_reference_ids finds the case, and a copy
submitted through the pipeline gets a report (and review page) that links the case and its
ClaimReview, with the caption's related fact-check found by the real sentence model."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from django.test import Client
from PIL import Image
from skimage import data as samples

from factcheck.cases.curation import evidence_add, evidence_mark_verified_original
from factcheck.cases.selectors import cases_for_reference_ids
from factcheck.cases.services import (
    ClaimInput,
    case_create,
    case_publish,
    case_rate,
    case_transition,
)
from factcheck.selectors import image_matches
from moderation.models import ReviewItem, Submission
from moderation.selectors import report_current
from moderation.services import submission_create

# The reference is indexed after its transaction commits, so this test commits for real.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_edited_copy_of_a_published_cases_original_links_the_case(personas) -> None:
    actor = personas["fact_checker"]
    case = case_create(
        title="Astronaut photo altered",
        actor=actor,
        claims=[ClaimInput(text="This astronaut photo shows a secret patch")],
    )
    evidence = evidence_add(case=case, actor=actor, kind="media", content=png(samples.astronaut()))
    reference = evidence_mark_verified_original(
        evidence=evidence, actor=actor, source="NASA", credit="NASA", licence="public domain"
    )
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="altered", explanation="A patch was pasted in.")
    case_publish(case=case, actor=actor)

    edited = samples.astronaut().copy()
    edited[300:420, 60:220] = (30, 200, 40)
    edited = cv2.resize(edited, (400, 400), interpolation=cv2.INTER_AREA)
    matches = image_matches(image=edited).matches
    assert matches and matches[0]["reference"]["id"] == str(reference.pk)
    links = cases_for_reference_ids([int(match["reference"]["id"]) for match in matches])
    assert [link["case_id"] for link in links] == [case.pk]
    assert links[0]["claimreview_url"] == f"/api/v1/cases/{case.pk}/claimreview/"

    # Through the pipeline (the analysis task runs eagerly on commit in tests).
    submission = submission_create(
        content=png(edited),
        source="upload",
        created_by=personas["moderator"],
        text="Secret patch spotted on the astronaut's suit in this photo",
    )
    submission.refresh_from_db()
    assert submission.status == Submission.Status.ANALYZED, submission.failure_reason
    report = report_current(submission)
    assert report is not None
    document = report.document
    assert document["verdict"]["label"] == "edited_copy"
    assert [link["case_id"] for link in document["fact_checks"]] == [case.pk]
    assert document["matches"][0]["fact_checks"][0]["reference_ids"] == [reference.pk]
    assert any(
        reason.startswith('A published fact-check, "Astronaut photo altered"')
        and "rated altered, covers the original" in reason
        for reason in document["verdict"]["reasons"]
    )
    [related] = document["related_fact_checks"]
    assert related["case_id"] == case.pk and related["claim"].startswith("This astronaut photo")

    page = Client()
    page.force_login(personas["moderator"])
    item = ReviewItem.objects.get(submission=submission)
    html = page.get(f"/review/items/{item.pk}/").content.decode()
    case.refresh_from_db()
    assert f'href="/factchecks/{case.slug}/">Astronaut photo altered</a>' in html
    assert f'href="/api/v1/cases/{case.pk}/claimreview/"' in html
