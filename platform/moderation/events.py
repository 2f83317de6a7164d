"""Events about submissions, written to an outbox in the caller's transaction.

`integrations` (outbound webhooks) listens without `moderation` importing it: it registers a
listener in its AppConfig.ready(), and every listener is called with the event id once the
transaction that wrote the event commits. A rolled-back change therefore announces nothing, and
a listener that fails after commit loses nothing: the row is still there to deliver from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

from moderation.models import Event, Submission

SUBMISSION_ANALYZED = "submission.analyzed"
DECISION_MADE = "decision.made"
VERDICT_CHANGED = "verdict.changed"
EVENT_TYPES = (SUBMISSION_ANALYZED, DECISION_MADE, VERDICT_CHANGED)

logger = logging.getLogger(__name__)
_listeners: list[Callable[[int], None]] = []


def on_event(listener: Callable[[int], None]) -> None:
    """Register `listener(event_id)`; registering the same function twice has no effect."""
    if listener not in _listeners:
        _listeners.append(listener)


def event_emit(*, type: str, submission: Submission | None, data: dict[str, Any]) -> Event:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event = Event.objects.create(
        type=type,
        submission=submission,
        client=submission.client if submission is not None else None,
        payload=data,
    )
    transaction.on_commit(lambda: _notify(event.pk))
    return event


def _notify(event_id: int) -> None:
    for listener in list(_listeners):
        try:
            listener(event_id)
        except Exception:  # one failing listener must not stop the others; the row stays
            logger.exception("event listener %r failed for event %s", listener, event_id)
