"""Links on cases are http(s) only: claims, evidence, verified originals and reference fixes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from factcheck.cases.curation import (
    evidence_add,
    evidence_mark_verified_original,
    reference_correct,
)
from factcheck.cases.models import Evidence
from factcheck.cases.services import CaseError, ClaimInput, claim_add
from mediastore.links import MAX_LINK_LENGTH, UNSAFE_LINK_CODE

pytestmark = pytest.mark.django_db
PREFIX = "https://sns.example/"
LONGEST = PREFIX + "p" * (MAX_LINK_LENGTH - len(PREFIX))


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(96, 128, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_claim_url_boundary_and_refusal_code(case, personas) -> None:
    actor = personas["fact_checker"]
    claim = claim_add(case=case, actor=actor, claim=ClaimInput(text="x", appearance_url=LONGEST))
    assert claim.appearance_url == LONGEST
    with pytest.raises(CaseError) as refused:
        claim_add(case=case, actor=actor, claim=ClaimInput(text="x", appearance_url=LONGEST + "p"))
    assert refused.value.code == UNSAFE_LINK_CODE
    with pytest.raises(CaseError, match=r"^appearance_url: only http"):
        claim_add(case=case, actor=actor, claim=ClaimInput(text="x", appearance_url="ftp://a/b"))


def test_evidence_link_is_stored_stripped_and_refused_otherwise(case, personas) -> None:
    actor = personas["fact_checker"]
    link = evidence_add(case=case, actor=actor, kind="link", url="  https://a.example/1 ")
    assert link.url == "https://a.example/1"
    with pytest.raises(CaseError, match=r"^url: only http") as refused:
        evidence_add(case=case, actor=actor, kind="link", url="javascript:alert(1)")
    assert refused.value.code == UNSAFE_LINK_CODE
    assert Evidence.objects.filter(case=case).count() == 1


def test_verified_original_drops_an_old_bad_evidence_link(case, personas) -> None:
    actor = personas["admin"]
    evidence = evidence_add(case=case, actor=actor, kind="media", content=png(1))
    Evidence.objects.filter(pk=evidence.pk).update(url="javascript:alert(1)")  # stored long ago
    evidence.refresh_from_db()
    reference = evidence_mark_verified_original(evidence=evidence, actor=actor, source="Agency")
    assert reference.url == ""
    other = evidence_add(case=case, actor=actor, kind="media", content=png(2))
    with pytest.raises(CaseError, match=r"^url: only http"):
        evidence_mark_verified_original(
            evidence=other, actor=actor, source="Agency", url="data:text/html,x"
        )


def test_reference_correction_refuses_a_bad_link(case, personas) -> None:
    actor = personas["admin"]
    evidence = evidence_add(case=case, actor=actor, kind="media", content=png(3))
    reference = evidence_mark_verified_original(evidence=evidence, actor=actor, source="Agency")
    with pytest.raises(CaseError, match=r"^url: only http"):
        reference_correct(reference=reference, actor=actor, changes={"url": "javascript:x"})
    fixed = reference_correct(
        reference=reference, actor=actor, changes={"url": " https://agency.example/7 "}
    )
    assert fixed.url == "https://agency.example/7"
