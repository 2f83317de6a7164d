"""A pool child killed mid-analysis, its parent alive: the task comes back at once, not after the
broker's visibility timeout, and its effect happens once.

The worker runs the production pool (prefork) with the default visibility timeout (900 s), so a
redelivery within a minute can only come from the parent: with acks_late and
task_reject_on_worker_lost it gives the message back to Redis when it sees the child die
(WorkerLostError -> reject with requeue). The claim's compare-and-set, the attempt counter and
the row-locked store make the second run the only one that stores anything.
"""

from __future__ import annotations

import io
import os
import signal
import time

import numpy as np
import pytest
import redis
from django.db import connection
from PIL import Image
from skimage import data

from moderation.events import SUBMISSION_ANALYZED
from moderation.models import Event, Report, ReviewItem, Submission
from tests.worker_process import Worker, database_url_of, on_broker

BROKER_URL = "redis://127.0.0.1:6379/12"
REDELIVERED_WITHIN_SECONDS = 60
ANALYSIS_TIMEOUT_SECONDS = 240  # generous: the machine is shared

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory, project_env, venv_bin):
    redis.Redis.from_url(BROKER_URL).flushdb()
    with django_db_blocker.unblock():
        database_url = database_url_of(connection.settings_dict)
    data_dir = tmp_path_factory.mktemp("prefork-worker")
    env = project_env(
        DATABASE_URL=database_url, CELERY_BROKER_URL=BROKER_URL, DATA_DIR=str(data_dir), DEBUG="0"
    )  # no CELERY_VISIBILITY_TIMEOUT: the default 900 s
    args = ["--pool=prefork", "--concurrency=1", "-Q", "analyze", "-n", "prefork-worker@%h"]
    process = Worker(env, args, data_dir / "worker.log")
    process.data_dir = data_dir
    process.start(venv_bin("celery"))
    yield process
    process.stop()


def _jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _wait_for(condition, timeout: float, worker: Worker) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, worker.log()[-4000:]
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.mark.timeout(600)
@pytest.mark.django_db(transaction=True)
def test_a_killed_child_task_is_redelivered_at_once_and_stores_once(
    worker, settings, api_client_credentials
) -> None:
    from moderation.services import submission_create

    settings.MEDIA_ROOT = worker.data_dir / "media"  # the worker reads what this process stores
    settings.CELERY_BROKER_URL = BROKER_URL
    pixels = np.asarray(Image.fromarray(data.coffee()).resize((1200, 800)))
    with on_broker(BROKER_URL):
        submission = submission_create(
            content=_jpeg(pixels), source="api", client=api_client_credentials.client
        )

    def claimed(attempt: int):
        return lambda: Submission.objects.get(pk=submission.pk).attempts >= attempt

    _wait_for(claimed(1), ANALYSIS_TIMEOUT_SECONDS, worker)
    [child] = worker.children()
    parent_pid = worker.process.pid
    os.kill(child, signal.SIGKILL)
    killed_at = time.monotonic()
    mid_task = Submission.objects.get(pk=submission.pk)
    assert mid_task.status == "analyzing", "the analysis finished before the kill; nothing tested"
    assert not Report.objects.filter(submission=submission).exists()

    # The parent lives and starts a new child, which takes the message again.
    redelivered = _wait_for(claimed(2), REDELIVERED_WITHIN_SECONDS, worker)
    assert worker.process.poll() is None and worker.process.pid == parent_pid
    assert child not in worker.children()
    _wait_for(
        lambda: Submission.objects.get(pk=submission.pk).status in ("analyzed", "failed"),
        ANALYSIS_TIMEOUT_SECONDS,
        worker,
    )
    done = Submission.objects.get(pk=submission.pk)
    assert (done.status, done.attempts) == ("analyzed", 2), done.failure_reason
    assert time.monotonic() - killed_at < ANALYSIS_TIMEOUT_SECONDS
    time.sleep(3)  # a third copy, if there were one, would have been taken by now
    assert Submission.objects.get(pk=submission.pk).attempts == 2
    assert Report.objects.filter(submission=submission).count() == 1
    assert ReviewItem.objects.filter(submission=submission).count() == 1
    assert list(Event.objects.filter(submission=submission).values_list("type", flat=True)) == [
        SUBMISSION_ANALYZED
    ]
    assert worker.received("moderation.analyze_submission") == 2
    assert "WorkerLostError" in worker.log()
    print(f"redelivered {redelivered:.1f} s after the kill")
