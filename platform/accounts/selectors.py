from __future__ import annotations

from typing import Any

from accounts.models import ApiClient, User


def identity_of(user: User) -> dict[str, Any]:
    client = ApiClient.objects.filter(user=user).values_list("slug", flat=True).first()
    return {
        "username": user.get_username(),
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "client": client,
    }
