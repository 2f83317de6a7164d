"""Escalation (moderation.escalation): a submission handed to fact-checkers opens a case (or
adds to the open one) with the submission linked; the same through POST /api/v1/cases/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from factcheck.cases.models import Case, TimelineEntry
from factcheck.cases.services import (
    CasePermissionDenied,
    case_create,
    case_publish,
    case_rate,
    case_transition,
)
from moderation.escalation import case_submission_link, submission_escalate
from moderation.models import CaseSubmission

pytestmark = pytest.mark.django_db


def kinds(case: Case) -> list[str]:
    return list(TimelineEntry.objects.filter(case=case).values_list("kind", flat=True))


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def submission(db, make_image_bytes):
    """An analyzed submission with a caption and one current report (made directly: no pipeline)."""
    from mediastore.services import media_store
    from moderation.models import Report, Submission

    media = media_store(content=make_image_bytes(seed=11)).media
    submission = Submission.objects.create(
        source=Submission.Source.UPLOAD,
        media=media,
        text="Shark swimming on a flooded highway after the hurricane",
        status=Submission.Status.ANALYZED,
        metadata={"author": {"name": "@stormwatch"}, "url": "https://sns.example/p/1"},
    )
    Report.objects.create(
        submission=submission,
        version=1,
        is_current=True,
        document={"schema": "report/1", "verdict": {"label": "edited_copy"}},
        label="edited_copy",
        manipulation_probability=0.9,
    )
    return submission


def test_moderators_escalate_but_cannot_rate_or_publish(case, personas, submission) -> None:
    moderator = personas["moderator"]
    escalated = submission_escalate(
        submission=submission, actor=moderator, rationale="Looks like the 2017 hoax."
    )
    assert escalated.created_by == moderator
    case_transition(case=case, actor=personas["fact_checker"], to_status="investigating")
    with pytest.raises(CasePermissionDenied):
        case_rate(case=case, actor=moderator, rating="false", explanation="x")
    case_rate(case=case, actor=personas["fact_checker"], rating="false", explanation="x")
    with pytest.raises(CasePermissionDenied):
        case_publish(case=case, actor=moderator)
    with pytest.raises(CasePermissionDenied):
        case_create(title="By hand", actor=moderator)
    with pytest.raises(CasePermissionDenied):
        case_transition(case=case, actor=moderator, to_status="closed")
    assert Case.objects.get(pk=case.pk).status == "rated"


def test_outsiders_cannot_escalate(personas, submission) -> None:
    with pytest.raises(CasePermissionDenied):
        submission_escalate(submission=submission, actor=personas["outsider"])
    with pytest.raises(CasePermissionDenied):
        case_submission_link(
            case=case_create(title="x", actor=personas["fact_checker"]),
            submission=submission,
            actor=personas["outsider"],
        )
    assert not CaseSubmission.objects.exists()


def test_escalation_attaches_submission_report_claim_and_rationale(personas, submission) -> None:
    case = submission_escalate(
        submission=submission, actor=personas["moderator"], rationale="Known hoax image."
    )
    link = case.case_submissions.get()
    assert link.submission == submission
    assert link.report == submission.reports.get(is_current=True)
    claim = case.claims.get()
    assert claim.text == submission.text
    assert claim.claimant == "@stormwatch"
    assert claim.appearance_url == "https://sns.example/p/1"
    assert case.comments.get().body == "Known hoax image."
    assert kinds(case) == ["escalate", "link_submission", "claim_add", "comment"]


def test_escalating_again_reuses_the_open_case(personas, submission) -> None:
    first = submission_escalate(submission=submission, actor=personas["moderator"])
    again = submission_escalate(
        submission=submission, actor=personas["moderator"], rationale="Second report."
    )
    assert again.pk == first.pk
    case_transition(case=first, actor=personas["fact_checker"], to_status="closed")
    third = submission_escalate(submission=submission, actor=personas["moderator"])
    assert third.pk != first.pk


def test_linking_again_changes_nothing(case, personas, submission) -> None:
    first = case_submission_link(case=case, submission=submission, actor=personas["fact_checker"])
    again = case_submission_link(case=case, submission=submission, actor=personas["admin"])
    assert again.pk == first.pk and again.added_by == personas["fact_checker"]
    assert kinds(case).count("link_submission") == 1


def test_moderator_escalates_through_the_api_but_cannot_create_rate_or_publish(
    personas, submission
) -> None:
    api = api_as(personas["moderator"])
    assert api.post("/api/v1/cases/", {"title": "x"}, format="json").status_code == 403
    response = api.post(
        "/api/v1/cases/", {"submission": submission.pk, "rationale": "hoax"}, format="json"
    )
    assert response.status_code == 201
    case_id = response.json()["id"]
    assert response.json()["submissions"][0]["submission"] == submission.pk
    assert (
        api.post(
            f"/api/v1/cases/{case_id}/rate/", {"rating": "false", "explanation": "x"}, format="json"
        ).status_code
        == 403
    )
    assert api.post(f"/api/v1/cases/{case_id}/publish/").status_code == 403
    missing = api.post("/api/v1/cases/", {"submission": 999999}, format="json")
    assert missing.status_code == 400 and "no submission" in missing.content.decode()
