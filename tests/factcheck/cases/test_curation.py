"""Evidence, verified originals from evidence, reference correction/removal, report links."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as samples

from accounts.models import AuditLog
from factcheck.cases.curation import (
    case_reference_remove,
    evidence_add,
    evidence_mark_verified_original,
    reference_correct,
)
from factcheck.cases.models import Evidence
from factcheck.cases.selectors import cases_for_reference_ids
from factcheck.cases.services import (
    CaseError,
    CasePermissionDenied,
    case_publish,
    case_rate,
    case_transition,
)
from factcheck.models import Reference

pytestmark = pytest.mark.django_db


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def publish(case, actor) -> None:
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="altered", explanation="The original has no shark.")
    case_publish(case=case, actor=actor)


def test_evidence_kinds_and_their_required_input(case, personas) -> None:
    actor = personas["fact_checker"]
    note = evidence_add(case=case, actor=actor, kind="note", note="Reverse search: 2011 photo")
    link = evidence_add(case=case, actor=actor, kind="link", url="https://agency.example/a/1")
    assert (note.kind, link.url) == ("note", "https://agency.example/a/1")
    for kind, message in [
        ("note", "needs a note"),
        ("link", "needs a url"),
        ("media", "needs a file"),
        ("reference", "needs a reference"),
    ]:
        with pytest.raises(CaseError, match=message):
            evidence_add(case=case, actor=actor, kind=kind)
    with pytest.raises(CaseError, match="kind"):
        evidence_add(case=case, actor=actor, kind="rumour", note="x")
    with pytest.raises(CasePermissionDenied):
        evidence_add(case=case, actor=personas["moderator"], kind="note", note="x")


def test_bad_upload_is_rejected_and_nothing_stored(case, personas) -> None:
    from mediastore.images import ImageRejected

    with pytest.raises(ImageRejected):
        evidence_add(case=case, actor=personas["fact_checker"], kind="media", content=b"nope")
    assert not Evidence.objects.exists()


def test_mark_verified_original_adds_a_reference_with_credit_and_licence(case, personas) -> None:
    actor = personas["fact_checker"]
    evidence = evidence_add(
        case=case, actor=actor, kind="media", content=jpeg(samples.astronaut()), note="Original"
    )
    reference = evidence_mark_verified_original(
        evidence=evidence, actor=actor, source="NASA", credit="NASA/JSC", licence="public domain"
    )
    assert (reference.source, reference.credit, reference.licence) == (
        "NASA",
        "NASA/JSC",
        "public domain",
    )
    assert reference.media_id == evidence.media_id
    assert Evidence.objects.get(pk=evidence.pk).reference == reference
    assert AuditLog.objects.filter(action="reference.add", target_id=str(reference.pk)).exists()
    assert AuditLog.objects.filter(action="case.verified_original").exists()
    with pytest.raises(CaseError, match="already"):
        evidence_mark_verified_original(evidence=evidence, actor=actor, source="NASA")


def test_only_media_evidence_becomes_an_original_and_moderators_cannot(case, personas) -> None:
    note = evidence_add(case=case, actor=personas["fact_checker"], kind="note", note="x")
    with pytest.raises(CaseError, match="uploaded media"):
        evidence_mark_verified_original(evidence=note, actor=personas["fact_checker"], source="A")
    with pytest.raises(CasePermissionDenied):
        evidence_mark_verified_original(evidence=note, actor=personas["moderator"], source="A")


def test_correct_and_remove_a_reference_with_audit(case, personas) -> None:
    actor = personas["fact_checker"]
    evidence = evidence_add(case=case, actor=actor, kind="media", content=jpeg(samples.coffee()))
    reference = evidence_mark_verified_original(evidence=evidence, actor=actor, source="Agency")
    reference_correct(reference=reference, actor=actor, changes={"credit": "J. Doe"}, case=case)
    entry = AuditLog.objects.get(action="reference.correct")
    assert entry.data["before"] == {"credit": ""} and entry.data["after"] == {"credit": "J. Doe"}
    assert Evidence.objects.get(pk=evidence.pk).reference_snapshot["credit"] == "J. Doe"
    with pytest.raises(CaseError, match="cannot correct media"):
        reference_correct(reference=reference, actor=actor, changes={"media": 1})
    with pytest.raises(CaseError, match="why"):
        case_reference_remove(evidence=evidence, actor=actor, reason=" ")
    reference_id = reference.pk
    case_reference_remove(evidence=evidence, actor=actor, reason="Rights withdrawn")
    assert not Reference.objects.filter(pk=reference_id).exists()
    kept = Evidence.objects.get(pk=evidence.pk)
    assert kept.reference is None and kept.reference_snapshot["id"] == reference_id
    assert AuditLog.objects.filter(action="reference.remove", target_id=str(reference_id)).exists()
    assert case.timeline.filter(kind="reference_remove").get().data["reason"] == "Rights withdrawn"


def test_cases_for_reference_ids_lists_published_cases_only(case, personas) -> None:
    actor = personas["fact_checker"]
    evidence = evidence_add(case=case, actor=actor, kind="media", content=jpeg(samples.chelsea()))
    reference = evidence_mark_verified_original(evidence=evidence, actor=actor, source="Agency")
    assert cases_for_reference_ids([reference.pk]) == []  # not published yet
    publish(case, actor)
    links = cases_for_reference_ids([reference.pk, 999999])
    assert len(links) == 1
    link = links[0]
    assert link["case_id"] == case.pk and link["reference_ids"] == [reference.pk]
    assert link["rating"] == "altered"
    assert link["url"] == f"/factchecks/{case.slug}/"
    assert link["claimreview_url"] == f"/api/v1/cases/{case.pk}/claimreview/"
    assert cases_for_reference_ids([]) == []
