"""Every delivered analysis ends with exactly one current report or a recorded failure.

A failure is injected at each step of the task after the claim; whatever fails, the submission
never stays `analyzing`: it is `analyzed` with one current report, or `failed` with a reason and
nothing half-written (no report, artifact row or file, review item or event), and `retry` then
analyses it. When even the failure cannot be recorded (database down) the task is not finished
as if done: it is retried, and the periodic repair re-queues what is left stuck.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import Retry, SoftTimeLimitExceeded
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import OperationalError, connection
from django.utils import timezone

from moderation import analysis, pipeline
from moderation.analysis import (
    ANALYZING_STALLED_AFTER,
    RECEIVED_STALLED_AFTER,
    analyses_resume,
    submission_analyze,
)
from moderation.events import SUBMISSION_ANALYZED
from moderation.models import Event, Report, ReportArtifact, ReviewItem, Submission
from moderation.services import submission_create, submission_retry

from .conftest import match_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def submission(api_client_credentials, make_image_bytes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return submission_create(
            content=make_image_bytes(seed=21),
            source="api",
            client=api_client_credentials.client,
            metadata={"reach": 10},
        )


def _raise(error: BaseException) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    return fail


def _database_error(*args: Any, **kwargs: Any) -> Any:
    # A real error from PostgreSQL, which also aborts the transaction it happens in.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")


def _second_artifact_file_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real = FileSystemStorage.save
    saved: list[str] = []

    def save(self: FileSystemStorage, name: str, *args: Any, **kwargs: Any) -> str:
        if saved:
            raise OSError(28, "No space left on device")
        saved.append(real(self, name, *args, **kwargs))
        return saved[-1]

    monkeypatch.setattr(FileSystemStorage, "save", save)


# (step, how to make it fail). Each patch stands for a step of the task after its claim.
INJECTIONS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "submission load": lambda mp: mp.setattr(
        Submission.objects, "select_related", _raise(OperationalError("connection lost"))
    ),
    "media read": lambda mp: mp.setattr(
        analysis, "media_read", _raise(FileNotFoundError("media/ab/cd.jpg"))
    ),
    "image analyze": lambda mp: mp.setattr(
        analysis, "image_analyze", _raise(MemoryError("cannot allocate"))
    ),
    "artifact encoding": lambda mp: mp.setattr(
        pipeline.Analysis, "artifact_pngs", _raise(ValueError("PNG encoder failed"))
    ),
    "current report read": lambda mp: mp.setattr(
        analysis, "report_current", _raise(OperationalError("server closed the connection"))
    ),
    "report create": lambda mp: mp.setattr(Report.objects, "create", _database_error),
    "artifact file storage": _second_artifact_file_fails,
    "artifact row": lambda mp: mp.setattr(
        ReportArtifact.objects, "create", _raise(OSError("disk full"))
    ),
    # The reported poison field: reach of 10**400 made review_priority overflow.
    "review priority": lambda mp: mp.setattr(
        analysis, "review_priority", _raise(OverflowError("int too large to convert to float"))
    ),
    "review item route": lambda mp: mp.setattr(analysis, "review_item_route", _database_error),
    "event payload": lambda mp: mp.setattr(analysis, "event_payload", _raise(KeyError("verdict"))),
    "event emit": lambda mp: mp.setattr(
        analysis, "event_emit", _raise(SoftTimeLimitExceeded("soft time limit"))
    ),
}


def _files_of(submission_id: int) -> list[str]:
    folder = f"{analysis.ARTIFACTS_PREFIX}/{submission_id}"
    if not default_storage.exists(folder):
        return []
    found = []
    for version in default_storage.listdir(folder)[0]:
        found += default_storage.listdir(f"{folder}/{version}")[1]
    return found


def assert_one_report_or_recorded_failure(submission_id: int) -> Submission:
    submission = Submission.objects.get(pk=submission_id)
    assert submission.status in (Submission.Status.ANALYZED, Submission.Status.FAILED)
    reports = Report.objects.filter(submission_id=submission_id)
    if submission.status == Submission.Status.ANALYZED:
        assert reports.filter(is_current=True).count() == 1
        return submission
    assert submission.failure_reason
    assert not reports.exists()
    assert not ReportArtifact.objects.filter(report__submission_id=submission_id).exists()
    assert not ReviewItem.objects.filter(submission_id=submission_id).exists()
    assert not Event.objects.filter(submission_id=submission_id).exists()
    assert _files_of(submission_id) == []  # no file of the rolled-back version stays behind
    return submission


@pytest.mark.parametrize("step", list(INJECTIONS))
def test_a_failure_at_any_step_is_recorded_and_retry_then_analyses(
    engines, submission, monkeypatch, step: str
) -> None:
    engines.matches = [match_item(edited=True)]  # every artifact kind is written
    with monkeypatch.context() as patched:
        INJECTIONS[step](patched)
        assert submission_analyze(submission_id=submission.pk) is None
        failed = assert_one_report_or_recorded_failure(submission.pk)
    assert failed.status == Submission.Status.FAILED, step

    submission_retry(submission=failed)
    report = submission_analyze(submission_id=submission.pk)
    assert report is not None and (report.version, report.is_current) == (1, True)
    assert assert_one_report_or_recorded_failure(submission.pk).status == "analyzed"
    assert Event.objects.get(submission=submission).type == SUBMISSION_ANALYZED
    assert sorted(_files_of(submission.pk)) == sorted(
        f"{kind}.png" for kind in report.artifacts.values_list("kind", flat=True)
    )


def test_without_a_failure_the_invariant_holds_too(engines, submission) -> None:
    assert submission_analyze(submission_id=submission.pk) is not None
    assert assert_one_report_or_recorded_failure(submission.pk).status == "analyzed"


def test_an_unrecordable_failure_is_not_finished_as_if_done(
    engines, submission, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """Database down while recording the failure: the task raises (so the worker retries it)
    instead of returning; the submission is left for the repair, which re-queues it."""
    from moderation.tasks import analyze_submission

    engines.fail_with = RuntimeError("index unreadable")
    with monkeypatch.context() as patched:
        patched.setattr(analysis, "_fail", _raise(OperationalError("the database is down")))
        with pytest.raises(Retry) as retried:  # sent again after a while, not acked as done
            analyze_submission.apply(args=(submission.pk,))
    assert isinstance(retried.value.exc, OperationalError)
    stuck = Submission.objects.get(pk=submission.pk)
    assert stuck.status == Submission.Status.ANALYZING
    assert not Report.objects.filter(submission=submission).exists()

    engines.fail_with = None
    Submission.objects.filter(pk=submission.pk).update(
        updated_at=timezone.now() - ANALYZING_STALLED_AFTER - timedelta(seconds=1)
    )
    queued: list[int] = []
    monkeypatch.setattr(analyze_submission, "delay", lambda pk, **_: queued.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        assert analyses_resume() == 1
    assert queued == [submission.pk]
    assert submission_analyze(submission_id=submission.pk) is not None
    done = assert_one_report_or_recorded_failure(submission.pk)
    assert (done.status, done.attempts) == ("analyzed", 2)


def test_the_repair_requeues_only_stalled_submissions_and_each_once(
    engines, submission, api_client_credentials, make_image_bytes, monkeypatch,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    from moderation.tasks import analyze_submission

    def other(seed: int, status: str, stalled_for: timedelta) -> int:
        with django_capture_on_commit_callbacks(execute=False):
            row = submission_create(
                content=make_image_bytes(seed=seed),
                source="api",
                client=api_client_credentials.client,
            )
        Submission.objects.filter(pk=row.pk).update(
            status=status, updated_at=timezone.now() - stalled_for
        )
        return row.pk

    second = timedelta(seconds=1)
    lost_analysis = other(31, "analyzing", ANALYZING_STALLED_AFTER + second)
    lost_message = other(32, "received", RECEIVED_STALLED_AFTER + second)
    other(33, "analyzing", ANALYZING_STALLED_AFTER - 10 * second)  # may still be running
    other(34, "received", RECEIVED_STALLED_AFTER - 10 * second)  # may still be queued
    other(35, "failed", RECEIVED_STALLED_AFTER * 10)
    other(36, "analyzed", RECEIVED_STALLED_AFTER * 10)
    queued: list[int] = []
    monkeypatch.setattr(analyze_submission, "delay", lambda pk, **_: queued.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        assert analyses_resume() == 2
    assert sorted(queued) == sorted([lost_analysis, lost_message])
    with django_capture_on_commit_callbacks(execute=True):
        assert analyses_resume() == 0  # a second beat run right after queues nothing again
    assert len(queued) == 2


def test_beat_runs_the_analysis_repair(settings) -> None:
    from config.celery import app
    from moderation.tasks import resume_analyses

    entry = settings.CELERY_BEAT_SCHEDULE["analyses-resume"]
    assert entry["task"] == resume_analyses.name and entry["task"] in app.tasks
    assert entry["schedule"] == settings.ANALYSES_RESUME_EVERY_SECONDS


def test_a_hard_time_limit_gives_the_analysis_back_to_the_broker() -> None:
    """The pool kills a child past the hard limit; acking that message (Celery's default) left
    the submission `analyzing` for good. Re-queued, the attempt counter bounds the loop."""
    from moderation.tasks import analyze_submission

    assert analyze_submission.acks_late is True
    assert analyze_submission.acks_on_timeout is False
