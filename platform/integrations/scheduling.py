"""When a retry goes to the broker with a countdown, and when it waits in the database.

Redis hands a message unacknowledged for longer than the visibility timeout to a consumer again
while the first still holds it, so a task queued with a countdown near or past the timeout is
copied again and again until it runs (16-18 copies of one delivery were seen with the 30 min to
8 h waits). A retry due within VISIBILITY_SAFE_FRACTION of the timeout is queued at once with
its countdown; a later one only records `next_attempt_at` and leaves `queued_at` empty, and the
beat job (integrations.tasks.resume_deliveries) queues it once it is that close to due.

`queued_at` says a message for the pending attempt is on the broker. Queuing sets it by
compare-and-set, so two beat runs, or beat and the task that scheduled the retry, never queue
the same attempt twice; a message that never ran (a restarted Redis) shows as an old
`queued_at` on an overdue row, and is queued again once per grace period.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q

# The countdown plus the task's own run must end before Redis would hand the message out
# again; half the timeout leaves the other half for the run and a busy worker.
VISIBILITY_SAFE_FRACTION = 0.5

# A task that runs this much before its attempt is due still runs it: the clocks of the host
# that scheduled it and of the worker may differ slightly, and an early copy that skipped
# would leave the attempt to the lost-task repair.
DUE_TOLERANCE = timedelta(seconds=1)

Enqueue = Callable[[int, float], None]  # (row id, countdown in seconds); queues on commit


def countdown_limit() -> float:
    """The longest countdown a task may be queued with, in seconds."""
    return float(settings.CELERY_VISIBILITY_TIMEOUT) * VISIBILITY_SAFE_FRACTION


def queue_with_countdown(wait: float) -> bool:
    """True: queue the retry now with `wait` as its countdown; False: hold it in the database."""
    return wait <= countdown_limit()


def retry_columns(*, now: datetime, wait: float) -> dict[str, datetime | None]:
    """`next_attempt_at` and `queued_at` of a row whose next attempt is `wait` seconds away;
    the caller queues the task (countdown `wait`) on commit when `queued_at` is set."""
    return {
        "next_attempt_at": now + timedelta(seconds=wait),
        "queued_at": now if queue_with_countdown(wait) else None,
    }


def held_due(pending: models.QuerySet, *, now: datetime) -> list[tuple[int, datetime | None]]:
    """(id, due) of the rows of `pending` held in the database and due within the limit."""
    horizon = now + timedelta(seconds=countdown_limit())
    return list(
        pending.filter(queued_at__isnull=True)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=horizon))
        .values_list("pk", "next_attempt_at")
    )


def held_claim(
    pending: models.QuerySet, *, row_id: int, due: datetime | None, now: datetime
) -> bool:
    """Compare-and-set: mark the held attempt (`due`) of one row queued; False if another run
    or the task queued it, or the row moved on, since it was selected."""
    return (
        pending.filter(pk=row_id, queued_at__isnull=True, next_attempt_at=due).update(queued_at=now)
        == 1
    )


def held_queue(pending: models.QuerySet, *, now: datetime, enqueue: Enqueue) -> int:
    """Queue every held attempt of `pending` due within the limit, each once, with the
    countdown left until it is due. Returns how many were queued."""
    queued = 0
    for row_id, due in held_due(pending, now=now):
        with transaction.atomic():
            if held_claim(pending, row_id=row_id, due=due, now=now):
                countdown = max(0.0, (due - now).total_seconds()) if due is not None else 0.0
                enqueue(row_id, countdown)
                queued += 1
    return queued


def lost_queue(
    pending: models.QuerySet, *, now: datetime, grace: timedelta, enqueue: Enqueue
) -> int:
    """Queue again the rows of `pending` whose queued attempt should have started more than
    `grace` ago (the message was lost), at most once per `grace`. Returns how many."""
    stale = now - grace
    rows = list(
        pending.filter(queued_at__lt=stale)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=stale))
        .values_list("pk", "queued_at")
    )
    requeued = 0
    for row_id, queued_at in rows:
        with transaction.atomic():
            if pending.filter(pk=row_id, queued_at=queued_at).update(queued_at=now) == 1:
                enqueue(row_id, 0.0)
                requeued += 1
    return requeued
