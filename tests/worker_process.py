"""A real Celery worker subprocess for tests, and what they need around it: its log, its pool
children, sending tasks to its broker instead of running them in-process, and kombu's own
redelivery of messages left unacknowledged past the visibility timeout."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kombu import Connection
from kombu.transport import redis as kombu_redis

from config.celery import app

REPO_DIR = Path(__file__).resolve().parents[1]
WORKER_READY_TIMEOUT_SECONDS = 60


def database_url_of(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class Worker:
    """`celery worker` in a subprocess; its log is a file the test reads."""

    def __init__(self, env: dict[str, str], args: list[str], log_path: Path) -> None:
        self.env, self.args, self.log_path = env, args, log_path
        self.process: subprocess.Popen | None = None
        self.celery = ""

    def start(self, celery: str = "") -> None:
        """Start (or start again, with the celery executable of the first start)."""
        celery = self.celery = celery or self.celery
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [celery, "-A", "config", "worker", "--without-mingle", "--without-gossip",
                   "--loglevel=INFO", *self.args]  # fmt: skip
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_DIR, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
        while "ready." not in self.log_path.read_text()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"celery worker did not start:\n{self.log()}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the whole worker, parent included (its unacknowledged tasks stay in Redis)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def log(self, offset: int = 0) -> str:
        return self.log_path.read_text()[offset:]

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def received(self, task_name: str, offset: int = 0) -> int:
        """How many messages of `task_name` the worker took since `offset` of its log."""
        return sum(
            1
            for line in self.log(offset).splitlines()
            if f"Task {task_name}[" in line and line.rstrip().endswith("received")
        )

    def children(self) -> list[int]:
        """Process ids of the pool's children (prefork), from /proc."""
        assert self.process is not None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                found.append(int(entry.name))
        return found


def forget_producer_pools() -> None:
    """Forget producer pools built for the broker URL of the moment, as Celery does after a fork."""
    app._after_fork()  # type: ignore[attr-defined]  # private Celery API; celery-types omits it


@contextmanager
def on_broker(broker_url: str) -> Iterator[None]:
    """Send tasks to the worker's broker instead of running them in-process (eager)."""
    app.conf.update(broker_url=broker_url, task_always_eager=False)
    forget_producer_pools()  # built for the previous broker URL
    try:
        yield
    finally:
        app.conf.update(broker_url=None, task_always_eager=True)
        forget_producer_pools()


def restore_unacknowledged(broker_url: str, visibility_timeout: float) -> None:
    """Run kombu's redelivery of messages unacknowledged for longer than the visibility timeout
    now; a worker runs the same scan itself, but only about every 100 s."""
    options = {"visibility_timeout": visibility_timeout}
    with Connection(broker_url, transport_options=options) as broker_connection:
        channel = broker_connection.default_channel
        assert isinstance(channel, kombu_redis.Channel)
        channel.qos.restore_visible(num=100, interval=1)
