"""A real Celery worker over Redis runs tasks enqueued on commit exactly once, never on rollback."""

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.db import connection, transaction

from config.celery import app
from ops.models import WorkerPong
from ops.services import worker_ping, worker_pong_wait
from tests.worker_process import database_url_of, forget_producer_pools

REPO_DIR = Path(__file__).resolve().parents[2]
BROKER_URL = "redis://127.0.0.1:6379/14"
WORKER_READY_TIMEOUT_SECONDS = 60
TASK_TIMEOUT_SECONDS = 30


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory, project_env, venv_bin):
    redis.Redis.from_url(BROKER_URL).flushdb()
    with django_db_blocker.unblock():
        database_url = database_url_of(connection.settings_dict)
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = project_env(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=BROKER_URL,
        DATA_DIR=str(log_path.parent),
        DEBUG="0",
    )
    queues = ",".join(queue.name for queue in app.conf.task_queues)
    command = [
        venv_bin("celery"), "-A", "config", "worker", "--pool=solo",
        "-Q", queues, "-n", "test-worker@%h", "--without-mingle", "--without-gossip",
        "--loglevel=INFO",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"celery worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    yield process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def broker(worker, settings) -> Iterator[None]:
    """Send tasks to the worker's broker instead of running them in-process."""
    settings.CELERY_BROKER_URL = BROKER_URL
    app.conf.update(broker_url=BROKER_URL, task_always_eager=False)
    # Producer pools are built once from the broker URL of the moment; forget the in-process ones
    # as Celery itself does after a fork.
    forget_producer_pools()
    yield
    app.conf.update(broker_url=None, task_always_eager=True)
    forget_producer_pools()


def ping_committed() -> str:
    token = secrets.token_hex(8)
    with transaction.atomic():
        worker_ping(token=token)
    return token


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_task_committed_runs_once_in_the_worker_and_writes_its_row(broker) -> None:
    token = ping_committed()
    pong = worker_pong_wait(token=token, timeout=TASK_TIMEOUT_SECONDS)
    assert pong is not None, "the worker never ran the task"
    assert pong.worker.startswith("test-worker@")
    # A second, later task finishing proves the queue moved on without running the first again.
    assert worker_pong_wait(token=ping_committed(), timeout=TASK_TIMEOUT_SECONDS) is not None
    assert WorkerPong.objects.get(token=token).executions == 1


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_task_in_rolled_back_transaction_never_runs(broker) -> None:
    token = secrets.token_hex(8)
    with pytest.raises(RuntimeError), transaction.atomic():
        worker_ping(token=token)
        raise RuntimeError("roll back")
    # The queue is FIFO with one solo worker: once a later task ran, the first would have too.
    assert worker_pong_wait(token=ping_committed(), timeout=TASK_TIMEOUT_SECONDS) is not None
    assert not WorkerPong.objects.filter(token=token).exists()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_worker_imports_the_standard_library_platform(broker) -> None:
    import platform

    pong = worker_pong_wait(token=ping_committed(), timeout=TASK_TIMEOUT_SECONDS)
    assert pong is not None
    assert pong.python_version == platform.python_version()


@pytest.mark.django_db
def test_in_process_mode_runs_on_commit_only(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            worker_ping(token="rolled-back")
            raise RuntimeError("roll back")
        worker_ping(token="committed")
    assert not WorkerPong.objects.filter(token="rolled-back").exists()
    assert WorkerPong.objects.get(token="committed").executions == 1
