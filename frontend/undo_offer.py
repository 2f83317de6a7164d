"""The undo bar: the decisions a reviewer just made, remembered in the session for the next
page, with the seconds left to undo them (moderation.review.DECISION_UNDO_SECONDS)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from moderation.models import Decision
from moderation.review import DECISION_UNDO_SECONDS

UNDO_SESSION_KEY = "review_undo"


def undo_offer_set(request: HttpRequest, decisions: list[Decision]) -> None:
    """Remember the decisions just made so the next page offers to undo them (escalations
    opened a case and are not undone here)."""
    undoable = [d for d in decisions if d.action != Decision.Action.ESCALATE]
    if not undoable:
        request.session.pop(UNDO_SESSION_KEY, None)
        return
    until = undoable[0].created_at + dt.timedelta(seconds=DECISION_UNDO_SECONDS)
    request.session[UNDO_SESSION_KEY] = {
        "ids": [d.pk for d in undoable],
        "until": until.timestamp(),
    }


def undo_offer(request: HttpRequest) -> dict[str, Any] | None:
    """The decisions just made and the seconds left to undo them; None once the time is up."""
    offer = request.session.get(UNDO_SESSION_KEY)
    if not isinstance(offer, dict):
        return None
    left = int(float(offer.get("until", 0)) - timezone.now().timestamp())
    ids = [i for i in offer.get("ids", []) if isinstance(i, int)]
    if left <= 0 or not ids:
        request.session.pop(UNDO_SESSION_KEY, None)
        return None
    return {"ids": ids, "seconds": left, "window": DECISION_UNDO_SECONDS}


def undo_offer_clear(request: HttpRequest) -> None:
    request.session.pop(UNDO_SESSION_KEY, None)
