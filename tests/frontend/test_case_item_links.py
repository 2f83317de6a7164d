"""Escalation is not a dead end (issue 18, item 4): the item page links to its case, and the
case page links back to each linked item with where it stands in review now."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import User
from moderation.escalation import submission_escalate
from moderation.models import Decision
from moderation.review import decision_make, item_claim
from tests.moderation.review_factory import review_item_create

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_item_page_links_to_its_case(personas):
    item = review_item_create(seed=31, text="Flooded mall, shark inside")
    page = signed_in(personas["moderator"]).get(f"/review/items/{item.pk}/").content.decode()
    assert 'data-testid="item-cases"' not in page
    case = submission_escalate(submission=item.submission, actor=personas["moderator"])
    page = signed_in(personas["moderator"]).get(f"/review/items/{item.pk}/").content.decode()
    assert 'data-testid="item-cases"' in page
    assert f'href="/cases/{case.pk}/"' in page and "(new)" in page


def test_the_case_page_shows_each_item_state_and_links_it(personas):
    item = review_item_create(seed=32, text="Volcano over the city")
    moderator = personas["moderator"]
    item_claim(item=item, user=moderator)
    decision_make(item=item, user=moderator, action="escalate", rationale="Needs a fact-check")
    case = item.submission.case_links.get().case
    page = signed_in(personas["fact_checker"]).get(f"/cases/{case.pk}/").content.decode()
    state = page[page.index(f'data-testid="review-state-{item.submission_id}"') :]
    state = state[: state.index("</p>")]
    assert f'href="/review/items/{item.pk}/"' in state
    assert "Decided" in state and Decision.Action.ESCALATE.label in state and "moderator" in state


def test_a_scoped_moderator_sees_the_state_but_no_link_to_another_clients_item(
    personas, api_client_credentials
):
    client = api_client_credentials.client
    item = review_item_create(seed=33, client=client)
    case = submission_escalate(submission=item.submission, actor=personas["moderator"])
    scoped = User.objects.create_user(username="scoped", password="x")
    scoped.groups.add(Group.objects.get(name="moderator"))
    scoped.groups.add(Group.objects.get_or_create(name="client:someone-else")[0])
    page = signed_in(scoped).get(f"/cases/{case.pk}/").content.decode()
    assert f'data-testid="review-state-{item.submission_id}"' in page
    assert f'href="/review/items/{item.pk}/"' not in page
