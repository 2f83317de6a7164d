"""Signals of factcheck (django.dispatch): how packages above it hear of its changes.

factcheck must not import moderation, so moderation connects its receiver in
ModerationConfig.ready(): `references_indexed` is sent with `reference_ids` (list of int) after
an index version that adds references is published (the update_index task, `rebuild_index`,
`embed_references`).
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `reference_ids` (list[int]) by `references_indexed_send`.
references_indexed = Signal()


def references_indexed_send(reference_ids: list[int]) -> None:
    """Tell every receiver. send_robust: one that fails is logged by Django (logger
    `django.dispatch`, with its traceback) and does not stop the others: the index is already
    published, and a retry of the whole task would not help the failing one."""
    if reference_ids:
        references_indexed.send_robust(
            sender=references_indexed_send, reference_ids=list(reference_ids)
        )
