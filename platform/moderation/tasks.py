"""Celery entry points of the pipeline; each loads by id and calls a service (idempotent)."""

from __future__ import annotations

from celery import shared_task

from moderation.analysis import submission_analyze
from moderation.recheck import submission_recheck, submissions_to_recheck

# A 1024-px image takes about a second; the limits only stop runaway inputs. Both stay far
# below the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT), so Redis never hands a
# running analysis to a second worker.
ANALYSIS_SOFT_TIME_LIMIT = 120
ANALYSIS_TIME_LIMIT = 150


@shared_task(
    name="moderation.analyze_submission",
    acks_late=True,
    soft_time_limit=ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=ANALYSIS_TIME_LIMIT,
)
def analyze_submission(submission_id: int, reason: str = "") -> None:
    submission_analyze(submission_id=submission_id, reason=reason)


@shared_task(name="moderation.recheck_references", acks_late=True)
def recheck_references(reference_ids: list[int]) -> None:
    """Fan out: one small task per recent submission, so each is bounded and retried alone."""
    for submission_id in submissions_to_recheck():
        recheck_submission.delay(submission_id, reference_ids)


@shared_task(
    name="moderation.recheck_submission",
    acks_late=True,
    soft_time_limit=ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=ANALYSIS_TIME_LIMIT,
)
def recheck_submission(submission_id: int, reference_ids: list[int]) -> None:
    submission_recheck(submission_id=submission_id, reference_ids=reference_ids)
