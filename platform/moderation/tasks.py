"""Celery entry points of the pipeline; each loads by id and calls a service (idempotent)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from moderation.analysis import (
    ANALYSIS_SOFT_TIME_LIMIT,
    ANALYSIS_TIME_LIMIT,
    VIDEO_ANALYSIS_SOFT_TIME_LIMIT,
    VIDEO_ANALYSIS_TIME_LIMIT,
    analyses_resume,
    annotated_video_render,
    submission_analyze,
)
from moderation.recheck import submission_recheck, submissions_to_recheck

# When even a failure cannot be recorded (the database is down), the task is sent again this
# many times, this far apart; after that `analyses_resume` (beat) picks the submission up.
ANALYSIS_UNRECORDED_RETRIES = 3
ANALYSIS_UNRECORDED_RETRY_SECONDS = 60


# acks_on_timeout (Celery 5.6+) is missing from celery-types' shared_task overloads.
@shared_task(  # type: ignore[call-overload]
    name="moderation.analyze_submission",
    bind=True,
    acks_late=True,
    # Past the hard limit the pool kills the child; acked, that message left the submission
    # `analyzing` for good. Given back to the broker it comes again, and the attempt counter
    # marks a submission that keeps timing out as failed.
    acks_on_timeout=False,
    soft_time_limit=ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=ANALYSIS_TIME_LIMIT,
    max_retries=ANALYSIS_UNRECORDED_RETRIES,
)
def analyze_submission(self: Any, submission_id: int, reason: str = "") -> None:
    try:
        submission_analyze(submission_id=submission_id, reason=reason)
    except Exception as error:  # nothing could be recorded: not done, so not acked as done
        raise self.retry(exc=error, countdown=ANALYSIS_UNRECORDED_RETRY_SECONDS) from error


# The same analysis for videos, on the `video` queue with longer limits (settings routes it).
@shared_task(  # type: ignore[call-overload]
    name="moderation.analyze_video",
    bind=True,
    acks_late=True,
    acks_on_timeout=False,
    soft_time_limit=VIDEO_ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=VIDEO_ANALYSIS_TIME_LIMIT,
    max_retries=ANALYSIS_UNRECORDED_RETRIES,
)
def analyze_video(self: Any, submission_id: int, reason: str = "") -> None:
    try:
        submission_analyze(submission_id=submission_id, reason=reason)
    except Exception as error:
        raise self.retry(exc=error, countdown=ANALYSIS_UNRECORDED_RETRY_SECONDS) from error


@shared_task(
    name="moderation.render_annotated_video",
    acks_late=True,
    soft_time_limit=VIDEO_ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=VIDEO_ANALYSIS_TIME_LIMIT,
)
def render_annotated_video(report_id: int) -> None:
    annotated_video_render(report_id=report_id)


@shared_task(name="moderation.resume_analyses")
def resume_analyses() -> str:
    """`analyses_resume` on a schedule (settings.CELERY_BEAT_SCHEDULE, the `beat` process)."""
    return f"{analyses_resume()} stalled analyses queued again"


@shared_task(name="moderation.recheck_references", acks_late=True)
def recheck_references(reference_ids: list[int]) -> None:
    """Fan out: one small task per recent submission, so each is bounded and retried alone;
    videos on the video queue, with its time limits."""
    for submission_id, video in submissions_to_recheck():
        (recheck_video if video else recheck_submission).delay(submission_id, reference_ids)


@shared_task(
    name="moderation.recheck_submission",
    acks_late=True,
    soft_time_limit=ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=ANALYSIS_TIME_LIMIT,
)
def recheck_submission(submission_id: int, reference_ids: list[int]) -> None:
    submission_recheck(submission_id=submission_id, reference_ids=reference_ids)


@shared_task(
    name="moderation.recheck_video",
    acks_late=True,
    soft_time_limit=VIDEO_ANALYSIS_SOFT_TIME_LIMIT,
    time_limit=VIDEO_ANALYSIS_TIME_LIMIT,
)
def recheck_video(submission_id: int, reference_ids: list[int]) -> None:
    submission_recheck(submission_id=submission_id, reference_ids=reference_ids)
