"""Near misses: reviewers' judgements of them (reading them: test_report_document)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.models import AuditLog
from moderation.models import NearMissJudgement
from moderation.near_misses import NearMissError, near_miss_find, near_miss_judge
from moderation.review import ReviewPermissionDenied
from moderation.selectors import item_history
from tests.moderation.review_factory import (
    near_miss_entry,
    near_misses_set,
    reference_create,
    report_version_add,
    review_item_create,
)

CONFIRMED = NearMissJudgement.Judgement.CONFIRMED
DISMISSED = NearMissJudgement.Judgement.DISMISSED


@pytest.mark.django_db
def test_confirm_is_stored_with_a_snapshot_and_audited(personas) -> None:
    item = review_item_create(seed=1)
    candidate = reference_create(seed=21)
    near_misses_set(item, [near_miss_entry(candidate)])
    judged = near_miss_judge(
        item=item, reference_id=candidate.pk, judgement=CONFIRMED, actor=personas["moderator"]
    )
    assert judged.judgement == CONFIRMED
    assert (judged.external_id, judged.source) == (candidate.external_id, candidate.source)
    assert (judged.report_version, judged.actor) == (1, personas["moderator"])
    audit = AuditLog.objects.get(action="near_miss.confirmed")
    assert audit.target_type == "moderation.nearmissjudgement"
    assert audit.target_id == str(judged.pk)
    assert audit.data == {
        "item": item.pk,
        "submission": item.submission_id,
        "reference": candidate.pk,
        "external_id": candidate.external_id,
        "report_version": 1,
        "previous": None,
    }
    assert audit.actor == personas["moderator"]
    assert audit in item_history(item=item)["audit"]  # shown in the item's audit trail


@pytest.mark.django_db
def test_a_second_judgement_replaces_the_first(personas) -> None:
    item = review_item_create(seed=1)
    candidate = reference_create(seed=21)
    near_misses_set(item, [near_miss_entry(candidate)])
    other = personas["admin"]
    other.groups.add(Group.objects.get(name="moderator"))
    first = near_miss_judge(
        item=item, reference_id=candidate.pk, judgement=DISMISSED, actor=personas["moderator"]
    )
    second = near_miss_judge(item=item, reference_id=candidate.pk, judgement=CONFIRMED, actor=other)
    assert second.pk == first.pk
    stored = NearMissJudgement.objects.get()
    assert (stored.judgement, stored.actor) == (CONFIRMED, other)
    actions = AuditLog.objects.filter(action__startswith="near_miss.").order_by("id")
    assert [(a.action, a.data["previous"]) for a in actions] == [
        ("near_miss.dismissed", None),
        ("near_miss.confirmed", "dismissed"),
    ]


@pytest.mark.django_db
def test_a_near_miss_of_an_older_report_version_can_be_judged(personas) -> None:
    item = review_item_create(seed=1)
    candidate = reference_create(seed=21)
    near_misses_set(item, [near_miss_entry(candidate)])
    report_version_add(item, label="edited_copy", probability=0.9, reason="re-check")
    near_misses_set(item, [])
    found = near_miss_find(submission=item.submission, reference_id=candidate.pk)
    assert found is not None and found[0] == 1
    judged = near_miss_judge(
        item=item, reference_id=candidate.pk, judgement=DISMISSED, actor=personas["moderator"]
    )
    assert judged.report_version == 1


@pytest.mark.django_db
def test_only_near_misses_of_the_item_can_be_judged(personas) -> None:
    item = review_item_create(seed=1)
    other_item = review_item_create(seed=2)
    candidate = reference_create(seed=21)
    near_misses_set(other_item, [near_miss_entry(candidate)])
    matched_id = int(item.submission.reports.get().document["matches"][0]["reference"]["id"])
    for reference_id in (candidate.pk, matched_id, 10**30):
        with pytest.raises(NearMissError, match="not a near miss"):
            near_miss_judge(
                item=item,
                reference_id=reference_id,
                judgement=CONFIRMED,
                actor=personas["moderator"],
            )
    near_misses_set(item, [near_miss_entry(candidate)])
    with pytest.raises(NearMissError, match="Unknown judgement"):
        near_miss_judge(
            item=item, reference_id=candidate.pk, judgement="maybe", actor=personas["moderator"]
        )
    assert not NearMissJudgement.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="near_miss.").exists()


@pytest.mark.django_db
def test_judging_needs_the_right_to_review_and_the_item_in_scope(
    personas, api_client_credentials
) -> None:
    item = review_item_create(seed=1)
    candidate = reference_create(seed=21)
    near_misses_set(item, [near_miss_entry(candidate)])
    for name in ("fact_checker", "outsider"):
        with pytest.raises(ReviewPermissionDenied):
            near_miss_judge(
                item=item, reference_id=candidate.pk, judgement=CONFIRMED, actor=personas[name]
            )
    moderator = personas["moderator"]
    moderator.groups.add(Group.objects.create(name=f"client:{api_client_credentials.client.slug}"))
    with pytest.raises(NearMissError, match="not in your queue"):
        near_miss_judge(item=item, reference_id=candidate.pk, judgement=CONFIRMED, actor=moderator)
    assert not NearMissJudgement.objects.exists()
