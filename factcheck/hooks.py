"""Listeners told when references become searchable (moderation re-checks recent submissions).

factcheck must not import moderation, so moderation registers a listener here from its
AppConfig.ready(); the update_index task calls `references_indexed` after publishing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

Listener = Callable[[list[int]], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def on_references_indexed(listener: Listener) -> None:
    """Register `listener(reference_ids)`; registering the same callable twice is a no-op, so
    a re-run ready() cannot double every notification."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def references_indexed(reference_ids: list[int]) -> None:
    """Tell every listener. One failing listener is logged and does not stop the others: the
    index is already published, and a retry of the whole task would not help the failing one."""
    if not reference_ids:
        return
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(list(reference_ids))
        except Exception:
            logger.exception("references_indexed listener %r failed", listener)
