"""Claim matching with the packaged sentence model: evaluation subset, stored-claim index, API."""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from factcheck.cases.claims import (
    ClaimIndex,
    ClaimModelMissing,
    claim_embedder,
    evaluate_claim_matching,
)
from factcheck.cases.models import Claim
from factcheck.cases.selectors import related_factchecks
from factcheck.cases.services import ClaimInput, case_create
from factcheck.management.commands.evaluate_claim_matching import DEFAULT_DATASET

pytestmark = pytest.mark.slow  # loads the sentence model once per process (~10-15 s)

SUBSET_CASES = 12


@pytest.fixture(scope="module")
def embedder():
    return claim_embedder()


def test_recall_at_3_on_a_subset_of_the_paraphrase_set(embedder) -> None:
    dataset = json.loads(DEFAULT_DATASET.read_text())
    subset = {"cases": dataset["cases"][:SUBSET_CASES], "distractors": dataset["distractors"]}
    metrics = evaluate_claim_matching(subset, embedder, k=3)
    assert metrics["queries"] == 2 * SUBSET_CASES
    assert metrics["recall_at_3"] >= 0.9, metrics["misses"]


def test_embeddings_are_normalised_and_meaningful(embedder) -> None:
    vectors = embedder.embed(["The dam burst", "The dam collapsed", "Sugar makes kids hyper"])
    assert vectors.shape == (3, embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_claim_index_search_orders_by_similarity() -> None:
    index = ClaimIndex(dim=2)
    assert index.search(np.array([1.0, 0.0]), 3) == []
    index.add([7, 9], np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    hits = index.search(np.array([0.8, 0.6], dtype=np.float32), 5)
    assert [hit.claim_id for hit in hits] == [7, 9]
    with pytest.raises(ValueError):
        index.add([1], np.zeros((2, 2), dtype=np.float32))


def test_missing_model_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ClaimModelMissing, match=str(tmp_path)):
        claim_embedder(str(tmp_path))


@pytest.mark.django_db
def test_related_factchecks_finds_cases_by_meaning(personas, embedder) -> None:
    actor = personas["fact_checker"]
    dam = case_create(
        title="Dam",
        actor=actor,
        claims=[ClaimInput(text="The dam upstream has collapsed and the town must evacuate now.")],
    )
    sugar = case_create(
        title="Sugar", actor=actor, claims=[ClaimInput(text="Sugar makes children hyperactive.")]
    )
    found = related_factchecks("Dam failure upriver, evacuate the town right away", k=2)
    assert [entry["case_id"] for entry in found] == [dam.pk, sugar.pk]
    assert found[0]["score"] > found[1]["score"]
    assert found[0]["published"] is False and found[0]["url"] is None
    assert Claim.objects.filter(embedding_model=embedder.name).count() == 2  # stored once
    later = case_create(
        title="Moon",
        actor=actor,
        claims=[ClaimInput(text="The moon landing was filmed in a studio.")],
    )
    assert (
        related_factchecks("NASA faked the moon landing on a film set", k=1)[0]["case_id"]
        == later.pk
    )
    assert related_factchecks("NASA faked the moon landing", k=3, published_only=True) == []
    assert related_factchecks("   ", k=3) == []


@pytest.mark.django_db
def test_related_endpoint(personas, embedder) -> None:
    from rest_framework.test import APIClient

    case_create(
        title="Shark",
        actor=personas["fact_checker"],
        claims=[ClaimInput(text="A shark swam on a flooded highway.")],
    )
    api = APIClient()
    api.force_authenticate(personas["moderator"])
    response = api.get("/api/v1/cases/related/", {"text": "shark in the floodwater on the freeway"})
    assert response.status_code == 200 and response.json()[0]["title"] == "Shark"
    assert api.get("/api/v1/cases/related/", {"text": "x", "k": "99"}).status_code == 400


def test_evaluate_command_rejects_bad_input(tmp_path) -> None:
    with pytest.raises(CommandError, match="no dataset"):
        call_command("evaluate_claim_matching", "--dataset", str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text('{"cases": "nope"}')
    with pytest.raises(CommandError, match="expected"):
        call_command("evaluate_claim_matching", "--dataset", str(tmp_path / "bad.json"))
    with pytest.raises(CommandError, match="-k"):
        call_command("evaluate_claim_matching", "-k", "0")
