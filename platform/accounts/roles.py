"""Roles are Django groups with a fixed set of permissions, synced after every migrate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, Permission

MODERATOR = "moderator"
FACT_CHECKER = "fact_checker"
ADMIN = "admin"
API_CLIENT = "api_client"
ROLES = (MODERATOR, FACT_CHECKER, ADMIN, API_CLIENT)

# "app_label.codename" per role; admins get every permission of the project's apps.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    MODERATOR: (
        "moderation.view_submission",
        "moderation.review_submission",
        "factcheck.view_reference",
        # Moderators escalate items into fact-check cases and follow them; they do not rate or
        # publish verdicts.
        "factcheck.view_case",
        "factcheck.escalate_case",
    ),
    FACT_CHECKER: (
        "moderation.view_submission",
        "factcheck.view_reference",
        "factcheck.add_reference",
        "factcheck.change_reference",
        "factcheck.delete_reference",
        "factcheck.view_case",
        "factcheck.add_case",
        "factcheck.change_case",
        "factcheck.escalate_case",
        "factcheck.rate_case",
        "factcheck.publish_case",
    ),
    API_CLIENT: (
        "moderation.add_submission",
        "moderation.view_submission",
    ),
}
ADMIN_APP_LABELS = (
    "accounts",
    "mediastore",
    "moderation",
    "factcheck",
    "detection",
    "ops",
    "integrations",
)


def roles_sync() -> None:
    """Create the role groups and set their permissions to exactly ROLE_PERMISSIONS."""
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        permissions: Iterable[Permission]
        if role == ADMIN:
            permissions = Permission.objects.filter(content_type__app_label__in=ADMIN_APP_LABELS)
        else:
            permissions = _permissions(ROLE_PERMISSIONS[role])
        group.permissions.set(permissions)


def _permissions(names: tuple[str, ...]) -> list[Permission]:
    found = []
    for name in names:
        app_label, codename = name.split(".", 1)
        permission = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if permission is not None:
            found.append(permission)
    return found


# How a page names each person's role (the API client role is a machine's, never asked for).
ROLE_NAMES = {MODERATOR: "moderator", FACT_CHECKER: "fact-checker", ADMIN: "admin"}


def roles_with_permission(permission: str) -> tuple[str, ...]:
    """The people's roles that hold "app_label.codename", as ROLE_PERMISSIONS and the admins'
    apps grant it (so a refusal names the roles that would really allow it)."""
    holders = [
        role for role in (MODERATOR, FACT_CHECKER) if permission in ROLE_PERMISSIONS.get(role, ())
    ]
    if permission.split(".", 1)[0] in ADMIN_APP_LABELS:
        holders.append(ADMIN)
    return tuple(holders)


def role_needed(what: str, *, permissions: Iterable[str] = (), role: str = "") -> str:
    """ "<what> needs the moderator, fact-checker or admin role; ...": the 403 text, naming the
    roles that hold any of `permissions` (or the one `role`), never a role that would not do."""
    held = {role} if role else {name for p in permissions for name in roles_with_permission(p)}
    names = [ROLE_NAMES[name] for name in ROLE_NAMES if name in held] or [ROLE_NAMES[ADMIN]]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"{what} needs the {listed} role; ask an administrator for it if you need it."


def user_has_role(user: Any, role: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if role == ADMIN and user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    # post_migrate fires once per app with models, each creating its own permissions, so the
    # groups are synced in the last app's turn, when every permission exists.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is with_models[-1]:
        roles_sync()
