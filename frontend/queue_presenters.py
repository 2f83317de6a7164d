"""How the queue words time: an item's age and its service-level time left, short enough for a
table cell ("3 h", "45 min")."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from moderation.selectors import sla_deadline


class SlaDisplay(TypedDict):
    age: str
    breached: bool
    text: str


def short_duration(delta: dt.timedelta) -> str:
    """The largest whole unit: "2 d", "5 h", "12 min", "under a minute"."""
    seconds = int(abs(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return "under a minute"


def sla_display(received_at: dt.datetime, now: dt.datetime) -> SlaDisplay:
    due = sla_deadline(received_at)
    breached = due < now
    return {
        "age": short_duration(now - received_at),
        "breached": breached,
        "text": f"SLA breached {short_duration(now - due)} ago"
        if breached
        else f"{short_duration(due - now)} left",
    }
