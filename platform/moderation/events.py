"""Events about submissions, written to an outbox in the caller's transaction.

Who hears of them: the `event_created` signal (django.dispatch), sent with `event_id` once the
transaction that wrote the event commits. `integrations` (outbound webhooks) connects its
receiver in IntegrationsConfig.ready(), so `moderation` never imports it. A rolled-back change
therefore announces nothing; receivers run with `send_robust`, so one that fails is logged and
does not stop the others, and loses nothing: the row is still there to deliver from.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

from moderation.models import Event, Submission

SUBMISSION_ANALYZED = "submission.analyzed"
DECISION_MADE = "decision.made"
VERDICT_CHANGED = "verdict.changed"
# A moderator undid a decision within its undo window (moderation.review.decision_undo): the
# decision.made sent before it no longer stands.
DECISION_UNDONE = "decision.undone"
EVENT_TYPES = (SUBMISSION_ANALYZED, DECISION_MADE, VERDICT_CHANGED, DECISION_UNDONE)

# Sent with `event_id` (int) after the event's transaction commits; sender: the Event class.
event_created = Signal()


def event_emit(*, type: str, submission: Submission | None, data: dict[str, Any]) -> Event:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event = Event.objects.create(
        type=type,
        submission=submission,
        client=submission.client if submission is not None else None,
        payload=data,
    )
    transaction.on_commit(lambda: event_announce(event.pk))
    return event


def event_announce(event_id: int) -> None:
    """Send `event_created` to every receiver. send_robust: one that fails is logged by Django
    (logger `django.dispatch`, with its traceback) and the others still run."""
    event_created.send_robust(sender=Event, event_id=event_id)
