from __future__ import annotations

import threading
import time
from typing import Any

from django.contrib.auth.models import Permission
from django.db.models import Q

from accounts.models import ApiClient, User, ViewingPreferences


def identity_of(user: User) -> dict[str, Any]:
    client = ApiClient.objects.filter(user=user).values_list("slug", flat=True).first()
    return {
        "username": user.get_username(),
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "client": client,
    }


# A granted model permission is remembered per process for this long, so the accept path
# (each request a fresh user object) does not query it every time. Only grants are remembered:
# a new grant applies at once, a revoked one within PERMISSION_CACHE_SECONDS (deactivating the
# user or client applies at once: authentication checks both on every request).
PERMISSION_CACHE_SECONDS = 10.0
MAX_CACHED_PERMISSIONS = 10_000
_granted: dict[tuple[int, str], float] = {}  # (user id, permission) -> monotonic expiry
_granted_lock = threading.Lock()


def user_has_model_permission(user: Any, permission: str) -> bool:
    """What ModelBackend.has_perm answers for "app_label.codename", in one EXISTS query at most
    every PERMISSION_CACHE_SECONDS per user while it is granted.

    has_perm loads every permission of the user and their groups into a set on first use; on
    the accept path, where each request is a fresh user object, that was a quarter of the
    request's CPU time.
    """
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    key, now = (user.pk, permission), time.monotonic()
    with _granted_lock:
        if _granted.get(key, 0.0) > now:
            return True
    app_label, codename = permission.split(".", 1)
    granted = Permission.objects.filter(
        Q(user=user) | Q(group__user=user), content_type__app_label=app_label, codename=codename
    ).exists()
    with _granted_lock:
        if not granted:
            _granted.pop(key, None)
        else:
            if len(_granted) >= MAX_CACHED_PERMISSIONS:
                _granted.clear()
            _granted[key] = now + PERMISSION_CACHE_SECONDS
    return granted


def viewing_preferences_of(user: Any) -> ViewingPreferences:
    """The user's viewing preferences; the defaults (unsaved) when none are stored."""
    if not getattr(user, "is_authenticated", False):
        return ViewingPreferences()
    found = ViewingPreferences.objects.filter(user=user).first()
    return found if found is not None else ViewingPreferences(user=user)
