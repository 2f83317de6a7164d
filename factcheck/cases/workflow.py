"""The configurable case workflow (`CASE_STATUSES`) and rating scale (`CLAIMREVIEW_RATINGS`).

Both are data in settings so a newsroom can use its own statuses and verdict names; they are
validated on every read (cheap) so a bad setting fails with a message naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# The services move a case into these two statuses (rating, publishing), so every workflow has
# them; generic transitions into them are refused.
STATUS_RATED = "rated"
STATUS_PUBLISHED = "published"
# Optional in a custom workflow; a case here (or published) counts as finished.
STATUS_CLOSED = "closed"
MAX_STATUS_LENGTH = 32
MAX_RATING_LENGTH = 64


def case_statuses() -> dict[str, tuple[str, ...]]:
    """Status -> statuses it may move to, in the configured order (the first is initial)."""
    raw = getattr(settings, "CASE_STATUSES", None)  # defaults: config/settings/base.py
    if not isinstance(raw, dict) or not raw:
        raise ImproperlyConfigured("CASE_STATUSES must be a non-empty dict status -> [statuses]")
    statuses = {str(name): tuple(str(t) for t in targets) for name, targets in raw.items()}
    for name, targets in statuses.items():
        if not name or len(name) > MAX_STATUS_LENGTH:
            raise ImproperlyConfigured(f"CASE_STATUSES: status {name!r} must be 1-32 characters")
        unknown = [target for target in targets if target not in statuses]
        if unknown:
            raise ImproperlyConfigured(f"CASE_STATUSES: {name!r} moves to unknown {unknown}")
    for required in (STATUS_RATED, STATUS_PUBLISHED):
        if required not in statuses:
            raise ImproperlyConfigured(f"CASE_STATUSES must contain the status {required!r}")
    return statuses


def initial_status() -> str:
    return next(iter(case_statuses()))


def can_transition(old: str, new: str) -> bool:
    return new in case_statuses().get(old, ())


@dataclass(frozen=True)
class RatingScale:
    worst: int
    best: int
    values: dict[str, int]  # rating name -> numeric position

    def alternate_name(self, rating: str) -> str:
        """ClaimReview `alternateName`: "missing_context" -> "Missing context"."""
        return rating.replace("_", " ").replace("-", " ").strip().capitalize()


def rating_scale() -> RatingScale:
    raw: Any = getattr(settings, "CLAIMREVIEW_RATINGS", None)  # defaults: config/settings/base.py
    try:
        worst, best = int(raw["worst"]), int(raw["best"])
        values = {str(name): int(value) for name, value in dict(raw["scale"]).items()}
    except (KeyError, TypeError, ValueError) as error:
        raise ImproperlyConfigured(
            'CLAIMREVIEW_RATINGS must be {"worst": int, "best": int, "scale": {name: int}}'
        ) from error
    low, high = min(worst, best), max(worst, best)
    outside = {name: value for name, value in values.items() if not low <= value <= high}
    if not values or outside:
        raise ImproperlyConfigured(
            f"CLAIMREVIEW_RATINGS: values outside {worst}..{best}: {outside}"
        )
    if any(not name or len(name) > MAX_RATING_LENGTH for name in values):
        raise ImproperlyConfigured("CLAIMREVIEW_RATINGS: rating names must be 1-64 characters")
    return RatingScale(worst=worst, best=best, values=values)
