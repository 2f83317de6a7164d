"""Worker liveness pings and readiness checks."""

from __future__ import annotations

import functools
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from ops.models import WorkerPong

PING_POLL_INTERVAL_SECONDS = 0.1
BROKER_CHECK_TIMEOUT_SECONDS = 2  # kombu takes whole seconds


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def worker_ping(*, token: str) -> None:
    """Ask a worker to answer `token`; the task is sent only if the caller's transaction commits."""
    from ops.tasks import worker_pong

    transaction.on_commit(functools.partial(worker_pong.delay, token))


def worker_pong_record(*, token: str, worker: str) -> WorkerPong:
    """Answer a ping once per token; a redelivered task only increments `executions`."""
    pong, _ = WorkerPong.objects.get_or_create(
        token=token, defaults={"worker": worker, "python_version": platform.python_version()}
    )
    WorkerPong.objects.filter(pk=pong.pk).update(executions=F("executions") + 1, worker=worker)
    pong.refresh_from_db()
    return pong


def worker_pong_wait(*, token: str, timeout: float) -> WorkerPong | None:
    deadline = time.monotonic() + timeout
    while True:
        pong = WorkerPong.objects.filter(token=token).first()
        if pong is not None or time.monotonic() >= deadline:
            return pong
        time.sleep(PING_POLL_INTERVAL_SECONDS)


def readiness_checks() -> list[Check]:
    return [_check_database(), _check_broker(), _check_index_files()]


def _check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "not ready", with its reason
        return Check("database", False, type(error).__name__)
    return Check("database", True, connection.vendor)


def _check_broker() -> Check:
    if not settings.CELERY_BROKER_URL:
        return Check("broker", True, "not configured: tasks run in-process")
    from config.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # kombu raises many transport-specific errors
        return Check("broker", False, type(error).__name__)
    return Check("broker", True, "reachable")


def _check_index_files() -> Check:
    index_dir = Path(settings.INDEX_DIR)
    if not index_dir.exists():
        return Check("index", True, "no index yet")
    try:
        manifests = sorted(index_dir.glob("*.json"))
        for manifest in manifests:
            json.loads(manifest.read_text())
    except (OSError, ValueError) as error:
        return Check("index", False, f"{type(error).__name__}")
    return Check("index", True, f"{len(manifests)} manifest(s) readable")
