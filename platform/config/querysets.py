"""A QuerySet whose update() keeps `auto_now` fields honest.

Django sets `auto_now` fields in Model.save() only; the compare-and-set status changes the
project makes with QuerySet.update() left `updated_at` at the row's creation time, so a repair
that selected rows "unchanged for N minutes" could pick up rows that had just changed.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone


class TouchingQuerySet(models.QuerySet):
    """update() also sets every `auto_now` field that the call does not set itself."""

    def update(self, **kwargs: Any) -> int:
        now = None
        for field in self.model._meta.concrete_fields:
            if getattr(field, "auto_now", False) and field.name not in kwargs:
                now = now or timezone.now()
                kwargs[field.name] = now
        return super().update(**kwargs)

    # Django's marker on data-changing methods (templates never call them); the stubs type a
    # method as a plain callable, without the attribute.
    update.alters_data = True  # type: ignore[attr-defined]


# Named at module level: django-stubs types `from_queryset` bases only when assigned to a name.
_TouchingManagerBase = models.Manager.from_queryset(TouchingQuerySet)


class TouchingManager(_TouchingManagerBase):
    """The default manager of models whose `updated_at` is read (repairs, admin, APIs)."""
