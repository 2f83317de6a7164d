from celery import shared_task

from factcheck.indexing import index_compact, index_update
from factcheck.signals import references_indexed_send


@shared_task(name="factcheck.update_index")
def update_index(add_ids: list[int], remove_ids: list[int]) -> None:
    """Idempotent: entries are removed before being added, so a retry changes nothing. Also
    applies anything an interrupted earlier update left in the outbox."""
    change = index_update(add_ids=add_ids, remove_ids=remove_ids)
    references_indexed_send(change.indexed_ids)


@shared_task(name="factcheck.compact_index")
def compact_index(name: str) -> None:
    """Enqueued by an update that left index `name` past its delta limits. Idempotent: a run
    finding nothing due, or another compaction of it under way, does nothing."""
    index_compact(name=name)
