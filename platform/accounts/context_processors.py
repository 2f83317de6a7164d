from typing import Any

from accounts.roles import ADMIN, FACT_CHECKER, MODERATOR


def roles(request: Any) -> dict[str, Any]:
    """Role flags for role-aware navigation in templates (one query per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_moderator": False, "is_fact_checker": False, "is_admin": False}
    names = set(user.groups.values_list("name", flat=True))
    return {
        "is_moderator": MODERATOR in names,
        "is_fact_checker": FACT_CHECKER in names,
        "is_admin": user.is_superuser or ADMIN in names,
    }
