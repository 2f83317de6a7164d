"""Case services: workflow by compare-and-set, rating, publishing, audit, roles (escalation:
tests/moderation/test_escalation.py)."""

from __future__ import annotations

import pytest

from accounts.models import AuditLog
from factcheck.cases import services
from factcheck.cases.models import Case, TimelineEntry
from factcheck.cases.services import (
    CaseConflict,
    CaseError,
    CasePermissionDenied,
    ClaimInput,
    case_assign,
    case_create,
    case_publish,
    case_rate,
    case_transition,
    claim_add,
    comment_add,
)

pytestmark = pytest.mark.django_db


def kinds(case: Case) -> list[str]:
    return list(TimelineEntry.objects.filter(case=case).values_list("kind", flat=True))


def test_create_starts_in_the_first_status_with_timeline_and_audit(case, personas) -> None:
    assert case.status == "new"
    assert kinds(case) == ["create", "claim_add"]
    actions = set(AuditLog.objects.filter(target_id=str(case.pk)).values_list("action", flat=True))
    assert {"case.create", "case.claim_add"} <= actions


def test_title_limits(personas) -> None:
    actor = personas["fact_checker"]
    longest = "x" * services.MAX_TITLE_LENGTH
    assert case_create(title=longest, actor=actor).title == longest
    with pytest.raises(CaseError, match="title"):
        case_create(title=longest + "x", actor=actor)
    with pytest.raises(CaseError, match="title"):
        case_create(title="   ", actor=actor)


def test_workflow_transitions_follow_the_configuration(case, personas) -> None:
    actor = personas["fact_checker"]
    with pytest.raises(CaseError, match="cannot become"):
        case_transition(case=case, actor=actor, to_status="new")
    with pytest.raises(CaseError, match="unknown status"):
        case_transition(case=case, actor=actor, to_status="archived")
    with pytest.raises(CaseError, match="by rating or publishing"):
        case_transition(case=case, actor=actor, to_status="published")
    case_transition(case=case, actor=actor, to_status="investigating")
    assert Case.objects.get(pk=case.pk).status == "investigating"
    assert kinds(case)[-1] == "status"


def test_custom_workflow_setting(case, personas, settings) -> None:
    settings.CASE_STATUSES = {
        "triage": ["rated", "spam"],
        "spam": [],
        "rated": ["published"],
        "published": [],
    }
    fresh = case_create(title="Custom", actor=personas["fact_checker"])
    assert fresh.status == "triage"
    case_transition(case=fresh, actor=personas["fact_checker"], to_status="spam")
    settings.CASE_STATUSES = {"new": ["done"], "done": []}
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="rated"):
        case_create(title="Broken", actor=personas["fact_checker"])


def test_transition_is_compare_and_set(case, personas) -> None:
    actor = personas["fact_checker"]
    stale = Case.objects.get(pk=case.pk)
    case_transition(case=case, actor=actor, to_status="investigating")
    # `stale` still believes the case is new: its change must not win.
    with pytest.raises(CaseConflict, match="now 'investigating'"):
        case_transition(case=stale, actor=actor, to_status="closed")
    assert Case.objects.get(pk=case.pk).status == "investigating"


def test_rate_then_publish(case, personas) -> None:
    actor = personas["fact_checker"]
    with pytest.raises(CaseError, match="rate the case"):
        case_publish(case=case, actor=actor)
    with pytest.raises(CaseError, match="cannot be rated"):
        case_rate(case=case, actor=actor, rating="false", explanation="Photo composite.")
    case_transition(case=case, actor=actor, to_status="investigating")
    with pytest.raises(CaseError, match="unknown rating"):
        case_rate(case=case, actor=actor, rating="pants_on_fire", explanation="x")
    with pytest.raises(CaseError, match="explanation"):
        case_rate(case=case, actor=actor, rating="false", explanation="  ")
    case_rate(case=case, actor=actor, rating="altered", explanation="The shark was pasted in.")
    stored = Case.objects.get(pk=case.pk)
    assert (stored.status, stored.rating, stored.rating_value) == ("rated", "altered", 2)
    assert (stored.rating_worst, stored.rating_best) == (1, 5)
    case_publish(case=case, actor=actor)
    stored = Case.objects.get(pk=case.pk)
    assert stored.status == "published" and stored.published_at is not None
    assert stored.slug == f"shark-on-the-highway-{case.pk}"
    assert kinds(case)[-2:] == ["rate", "publish"]
    assert AuditLog.objects.filter(action="case.publish", target_id=str(case.pk)).exists()


def test_rating_needs_a_claim(personas) -> None:
    actor = personas["fact_checker"]
    empty = case_create(title="No claim yet", actor=actor)
    case_transition(case=empty, actor=actor, to_status="investigating")
    with pytest.raises(CaseError, match="claim"):
        case_rate(case=empty, actor=actor, rating="false", explanation="x")


def test_slug_survives_republication(case, personas) -> None:
    actor = personas["admin"]
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="false", explanation="Fabricated.")
    case_publish(case=case, actor=actor)
    slug = case.slug
    case_transition(case=case, actor=actor, to_status="closed")
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="altered", explanation="Edited, not fabricated.")
    case_publish(case=case, actor=actor)
    assert Case.objects.get(pk=case.pk).slug == slug


def test_outsiders_can_do_nothing(case, personas) -> None:
    outsider = personas["outsider"]
    with pytest.raises(CasePermissionDenied):
        comment_add(case=case, actor=outsider, body="hi")


def test_claims_comments_and_members(case, personas) -> None:
    actor = personas["fact_checker"]
    claim = claim_add(case=case, actor=actor, claim=ClaimInput(text="  Sharks on I-45  "))
    assert claim.text == "Sharks on I-45"
    with pytest.raises(CaseError, match="claim text"):
        claim_add(case=case, actor=actor, claim=ClaimInput(text="x" * 5001))
    comment_add(case=case, actor=personas["moderator"], body="Seen it before")
    with pytest.raises(CaseError, match="comment"):
        comment_add(case=case, actor=actor, body=" ")
    case_assign(case=case, actor=actor, user=personas["admin"])
    case_assign(case=case, actor=actor, user=personas["admin"])  # no second entry
    case_assign(case=case, actor=personas["moderator"], user=personas["moderator"], role="watcher")
    with pytest.raises(CasePermissionDenied):
        case_assign(case=case, actor=personas["moderator"], user=personas["admin"])
    with pytest.raises(CaseError, match="cannot see"):
        case_assign(case=case, actor=actor, user=personas["outsider"])
    assert list(case.assignees.all()) == [personas["admin"]]
    assert list(case.watchers.all()) == [personas["moderator"]]
    assert kinds(case).count("assignee_add") == 1
