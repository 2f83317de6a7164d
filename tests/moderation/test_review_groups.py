"""Groups of review items (same media or same matched original) and group decisions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.models import AuditLog, User
from accounts.roles import MODERATOR
from moderation.events import DECISION_MADE
from moderation.models import Decision, Event, Report, ReviewItem
from moderation.review import ReviewError, item_claim
from moderation.review_groups import group_decision_make, group_sizes, item_group
from tests.moderation.review_factory import reference_create, review_item_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_moderator(personas) -> User:
    user = User.objects.create_user(username="moderator2", password="correct horse battery")
    user.groups.add(Group.objects.get(name=MODERATOR))
    return user


def first_match_set(item: ReviewItem, reference_seed: int) -> None:
    """Make the item's current report match the reference of `reference_seed` first."""
    report = Report.objects.get(submission=item.submission, is_current=True)
    reference = reference_create(seed=reference_seed)
    matches = report.document["matches"] or [{"similarity": 0.9}]
    matches[0] = {**matches[0], "reference": {"id": str(reference.pk)}}
    report.document = {**report.document, "matches": matches}
    report.save(update_fields=["document"])


@pytest.fixture
def family() -> dict[str, ReviewItem]:
    """lead and copy share the media; sibling (other media) matched the same original first;
    stranger is unrelated; old shares the media but is decided."""
    lead = review_item_create(seed=1, priority=9)
    copy = review_item_create(seed=1, priority=5)
    sibling = review_item_create(seed=2, priority=4)
    first_match_set(sibling, reference_seed=1)
    stranger = review_item_create(seed=3, priority=3)
    old = review_item_create(seed=1, priority=1)
    ReviewItem.objects.filter(pk=old.pk).update(status=ReviewItem.Status.DECIDED)
    return {"lead": lead, "copy": copy, "sibling": sibling, "stranger": stranger, "old": old}


def test_groups_join_the_same_media_and_the_same_original(personas, family) -> None:
    moderator = personas["moderator"]
    members = set(item_group(item=family["lead"], user=moderator).values_list("pk", flat=True))
    assert members == {family["lead"].pk, family["copy"].pk, family["sibling"].pk}
    sizes = group_sizes(
        items=[family[name] for name in ("lead", "copy", "sibling", "stranger")], user=moderator
    )
    assert sizes == {
        family["lead"].pk: 3,
        family["copy"].pk: 3,
        family["sibling"].pk: 3,
        family["stranger"].pk: 1,
    }
    assert group_sizes(items=[], user=moderator) == {}


def test_a_group_decision_decides_each_member_once(personas, second_moderator, family) -> None:
    moderator = personas["moderator"]
    lead, copy, sibling = family["lead"], family["copy"], family["sibling"]
    item_claim(item=lead, user=moderator)
    item_claim(item=copy, user=second_moderator)  # someone else's: skipped
    outcome = group_decision_make(
        item=lead, user=moderator, action="remove", rationale="Known hoax image."
    )
    assert [decision.item_id for decision in outcome.decided] == [lead.pk, sibling.pk]
    assert [(item.pk, reason) for item, reason in outcome.skipped] == [
        (copy.pk, "being reviewed by someone else")
    ]
    assert Decision.objects.filter(item=lead).count() == 1
    assert Decision.objects.filter(item=sibling, moderator=moderator).count() == 1
    assert not Decision.objects.filter(item__in=[copy, family["old"], family["stranger"]]).exists()
    assert ReviewItem.objects.get(pk=copy.pk).claimed_by == second_moderator
    # Audited and announced per member, like single decisions.
    audits = AuditLog.objects.filter(action="decision.remove")
    assert audits.count() == 2
    assert sorted(int(entry.data.get("group_of") or 0) for entry in audits) == [0, lead.pk]
    events = Event.objects.filter(type=DECISION_MADE)
    assert {event.submission_id for event in events} == {lead.submission_id, sibling.submission_id}
    assert events.count() == 2
    # A second try decides nothing twice.
    with pytest.raises(ReviewError, match="Claim this item"):
        group_decision_make(item=lead, user=moderator, action="allow")
    assert Decision.objects.count() == 2


def test_a_group_decision_needs_the_lead_held_and_a_valid_decision(personas, family) -> None:
    moderator = personas["moderator"]
    with pytest.raises(ReviewError, match="Claim this item"):
        group_decision_make(item=family["lead"], user=moderator, action="allow")
    item_claim(item=family["lead"], user=moderator)
    with pytest.raises(ReviewError, match="rationale is required"):
        group_decision_make(item=family["lead"], user=moderator, action="remove")
    with pytest.raises(ReviewError, match="Unknown action"):
        group_decision_make(item=family["lead"], user=moderator, action="delete-all")
    assert not Decision.objects.exists()
    # An expired lease on a member does not protect it: it is waiting again.
    ReviewItem.objects.filter(pk=family["copy"].pk).update(
        status=ReviewItem.Status.CLAIMED,
        claimed_by=personas["admin"],
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    outcome = group_decision_make(item=family["lead"], user=moderator, action="allow")
    assert len(outcome.decided) == 3 and not outcome.skipped


def test_a_group_never_reaches_another_tenants_items(personas, api_client_credentials) -> None:
    client = api_client_credentials.client
    ours = review_item_create(seed=1, client=client)
    theirs = review_item_create(seed=1)  # same media, another tenant (a staff upload)
    moderator = personas["moderator"]
    moderator.groups.add(Group.objects.create(name=f"client:{client.slug}"))
    assert list(item_group(item=ours, user=moderator)) == [ours]
    item_claim(item=ours, user=moderator)
    outcome = group_decision_make(item=ours, user=moderator, action="allow")
    assert [decision.item_id for decision in outcome.decided] == [ours.pk]
    assert ReviewItem.objects.get(pk=theirs.pk).status == ReviewItem.Status.PENDING


def test_the_pages_offer_and_report_a_group_decision(personas, second_moderator, family) -> None:
    moderator = personas["moderator"]
    item_claim(item=family["lead"], user=moderator)
    item_claim(item=family["copy"], user=second_moderator)
    browser = Client()
    browser.force_login(moderator)
    queue = browser.get("/review/").content.decode()
    assert queue.count("3 in group") == 2  # the copy held by someone else is not listed
    page = browser.get(f"/review/items/{family['lead'].pk}/").content.decode()
    assert "Apply to all 3 items of this group" in page
    response = browser.post(
        f"/review/items/{family['lead'].pk}/decide/",
        {"action": "allow", "apply_group": "1", "advance_shown": "1"},
        follow=True,
    )
    html = response.content.decode()
    assert "Decision recorded: Allow, for 2 items of the group." in html
    assert f"Skipped submission #{family['copy'].submission_id}: being reviewed by" in html
    assert Decision.objects.count() == 2


def test_a_large_group_is_named_in_part_and_decided_in_turns(personas, family, monkeypatch) -> None:
    monkeypatch.setattr("frontend.review_views.MAX_GROUP_SIZE", 2)
    monkeypatch.setattr("frontend.review_views.GROUP_PREVIEW", 1)
    monkeypatch.setattr("moderation.review_groups.MAX_GROUP_SIZE", 2)
    moderator = personas["moderator"]
    item_claim(item=family["lead"], user=moderator)
    browser = Client()
    browser.force_login(moderator)
    page = browser.get(f"/review/items/{family['lead'].pk}/").content.decode()
    assert "Apply to the first 2 of the 3 items of this group" in page
    assert f'?group={family["lead"].pk}">2 more</a>' in page
    outcome = group_decision_make(item=family["lead"], user=moderator, action="allow")
    assert [d.item_id for d in outcome.decided] == [family["lead"].pk, family["copy"].pk]
    assert ReviewItem.objects.get(pk=family["sibling"].pk).status == ReviewItem.Status.PENDING
