"""Roles are groups whose permissions are set after migrate."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import ADMIN, FACT_CHECKER, MODERATOR, ROLE_PERMISSIONS, user_has_role

pytestmark = pytest.mark.django_db


def permission_names(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


def test_migrate_creates_every_role_with_its_permissions() -> None:
    for role, expected in ROLE_PERMISSIONS.items():
        assert permission_names(Group.objects.get(name=role)) == set(expected)
    admin_permissions = permission_names(Group.objects.get(name=ADMIN))
    assert "accounts.view_auditlog" in admin_permissions
    assert "moderation.review_submission" in admin_permissions


def test_roles_map_to_permissions(personas) -> None:
    assert personas["moderator"].has_perm("moderation.review_submission")
    assert not personas["fact_checker"].has_perm("moderation.review_submission")
    assert personas["fact_checker"].has_perm("factcheck.add_reference")
    assert not personas["moderator"].has_perm("factcheck.add_reference")
    assert not personas["outsider"].has_perm("moderation.view_submission")
    assert user_has_role(personas["moderator"], MODERATOR)
    assert not user_has_role(personas["moderator"], FACT_CHECKER)
