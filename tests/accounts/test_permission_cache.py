"""The accept path's permission check: a grant is remembered for PERMISSION_CACHE_SECONDS."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts import selectors
from accounts.selectors import PERMISSION_CACHE_SECONDS, user_has_model_permission

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_000.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(selectors, "_granted", {})
    return now


def test_a_grant_is_remembered_until_the_boundary(personas, clock, django_assert_num_queries):
    moderator = personas["moderator"]
    with django_assert_num_queries(1):
        assert user_has_model_permission(moderator, "moderation.view_submission")
    moderator.groups.clear()  # revoked: still granted from memory until the entry expires
    with django_assert_num_queries(0):
        assert user_has_model_permission(moderator, "moderation.view_submission")
    clock[0] += PERMISSION_CACHE_SECONDS - 0.001
    assert user_has_model_permission(moderator, "moderation.view_submission")
    clock[0] += 0.001
    with django_assert_num_queries(1):
        assert not user_has_model_permission(moderator, "moderation.view_submission")


def test_a_denial_is_not_remembered_and_inactive_users_never_pass(personas, clock):
    outsider = personas["outsider"]
    assert not user_has_model_permission(outsider, "moderation.view_submission")
    outsider.groups.add(Group.objects.get(name="moderator"))
    assert user_has_model_permission(outsider, "moderation.view_submission")  # at once
    outsider.is_active = False
    assert not user_has_model_permission(outsider, "moderation.view_submission")
