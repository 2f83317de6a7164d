"""Chaos run: submissions keep flowing while Celery workers are SIGKILLed and restarted.

    python scripts/chaos.py [--items 1000] [--workers 2] [--kill-every 15 40] [--json]

Loopback only: PostgreSQL and Redis on 127.0.0.1, a signed-webhook receiver on 127.0.0.1, and
worker processes started here. The database (--database, default provenant_chaos) is migrated
and EMPTIED first; Redis database --redis-db is flushed. Nothing else is touched.

Submits --items images through POST /api/v1/submissions/ (Django's test client, bearer token),
every --kill-every seconds (uniform) SIGKILLs a worker in the middle of a task (the first one
its log shows running) and restarts it in the background, runs the `webhooks_resume` repair
every --resume-every seconds as the documented cron job would, and stops killing once
CHAOS_UNTIL_SETTLED of the submissions are done and at least --min-kills workers were killed
mid-task (or --max-kills were). Then it waits for the backlog and checks:
- every submission ends analysed or failed, with exactly one report row, which is current;
- exactly one submission.analyzed event per analysed submission;
- every delivery of those events is delivered, and the receiver saw every webhook-id (it counts
  repeated POSTs of one id too: at-least-once delivery, deduplicated by webhook-id).
Prints the figures (JSON with --json); exits 1 when anything is lost or duplicated.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import psycopg
import redis
from PIL import Image

REPO_DIR = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CELERY = str(Path(sys.executable).parent / "celery")
WORKER_READY_SECONDS = 90
# Redis hands a killed worker's unacknowledged task to another after this. It must exceed the
# longest task, a fresh worker's first analysis (model loading: up to 15 s measured on a loaded
# 2-core machine), or Redis hands a task that is still running to a second worker.
VISIBILITY_TIMEOUT_SECONDS = 45
# Workers are killed until this share of the submissions is analysed (or failed).
CHAOS_UNTIL_SETTLED = 0.9
BUSY_POLL_SECONDS = 0.05


class Receiver(BaseHTTPRequestHandler):
    """Verifies Standard Webhooks signatures and counts every POST per webhook-id."""

    secret_key: bytes = b""
    receipts: Counter[str] = Counter()
    bad_signatures = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        webhook_id = self.headers.get("webhook-id", "")
        signed = f"{webhook_id}.{self.headers.get('webhook-timestamp', '')}.".encode() + body
        expected = base64.b64encode(hmac.new(self.secret_key, signed, hashlib.sha256).digest())
        offered = [s.split(",", 1)[-1] for s in self.headers.get("webhook-signature", "").split()]
        valid = any(hmac.compare_digest(expected.decode(), s) for s in offered)
        with Receiver.lock:
            if valid:
                Receiver.receipts[webhook_id] += 1
            else:
                Receiver.bad_signatures += 1
        self.send_response(204 if valid else 401)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        pass


class Worker:
    def __init__(self, index: int, env: dict[str, str], log_dir: Path) -> None:
        self.index, self.env, self.log_path = index, env, log_dir / f"worker-{index}.log"
        self.process: subprocess.Popen | None = None
        self.log_offset = 0
        self.ready = threading.Event()

    def start(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log_offset = offset
        command = [
            CELERY, "-A", "config", "worker", "--pool=solo", "-n", f"chaos-{self.index}@%h",
            "-Q", "default,ingest,analyze,index,deliver", "--without-mingle", "--without-gossip",
            "--loglevel=INFO",
        ]  # fmt: skip
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_DIR, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + WORKER_READY_SECONDS
        while "ready." not in self.log_path.read_text()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"worker {self.index} did not start: {self.log_path}")
            time.sleep(0.2)
        self.ready.set()

    def busy(self) -> bool:
        """Ready and running a task: its log has more tasks received than finished (the solo
        pool with acks_late reserves one task at a time, the one it runs)."""
        if not self.ready.is_set() or self.process is None or self.process.poll() is not None:
            return False
        log = self.log_path.read_text()[self.log_offset :]
        finished = log.count("] succeeded in ") + log.count("] raised ") + log.count("] retry: ")
        return log.count("] received") > finished

    def kill(self) -> None:
        self.ready.clear()
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def loopback_environment(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO_DIR), str(REPO_DIR / "platform")]),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
        CELERY_BROKER_URL=f"redis://127.0.0.1:6379/{args.redis_db}",
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT_SECONDS),
        DATA_DIR=str(data_dir),
        WEBHOOK_FETCH_ALLOW_LOOPBACK="1",
        DEBUG="0",
        TQDM_DISABLE="1",
    )
    return env


def database_prepare(args: argparse.Namespace, env: dict[str, str]) -> None:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        exists = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.database,))
        if exists.fetchone() is None:
            db.execute(f'CREATE DATABASE "{args.database}"')
    for command in (["migrate", "--noinput", "-v", "0"], ["flush", "--noinput", "-v", "0"]):
        subprocess.run([PYTHON, "manage.py", *command], cwd=REPO_DIR, env=env, check=True)
    redis.Redis(host="127.0.0.1", port=6379, db=args.redis_db).flushdb()


def sample_jpeg(index: int) -> bytes:
    rng = np.random.default_rng(index)
    pixels = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    pixels = np.asarray(Image.fromarray(pixels).resize((256, 192), Image.Resampling.BICUBIC))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def _chaos(
    workers: list[Worker],
    args: argparse.Namespace,
    stop: threading.Event,
    kills: list[float],
    restarts: list[threading.Thread],
) -> None:
    """Kill a busy worker every --kill-every seconds; restart it without waiting for it, so
    another worker may die while it comes back."""
    rng = random.Random(args.seed)
    started = time.monotonic()
    while not stop.wait(rng.uniform(*args.kill_every)):
        busy: list[Worker] = []
        while not busy and not stop.wait(BUSY_POLL_SECONDS):
            busy = [worker for worker in workers if worker.busy()]
        if not busy:
            return
        worker = rng.choice(busy)
        worker.kill()
        kills.append(round(time.monotonic() - started, 1))
        restart = threading.Thread(target=_restart, args=(worker, rng.uniform(0.2, 2.0)))
        restart.start()
        restarts.append(restart)
        if args.max_kills is not None and len(kills) >= args.max_kills:
            return


def _restart(worker: Worker, after: float) -> None:
    time.sleep(after)
    worker.start()


def _resume_loop(stop: threading.Event, every: float, repaired: Counter[str]) -> None:
    from django.db import close_old_connections

    from integrations.outbound import deliveries_resume

    while not stop.wait(every):
        close_old_connections()
        resumed = deliveries_resume(since=_resume_window())
        repaired["deliveries_created"] += resumed.deliveries_created
        repaired["deliveries_requeued"] += resumed.deliveries_requeued


def _resume_window():
    from datetime import timedelta

    return timedelta(hours=6)


def _submit(count: int, token: str) -> list[int]:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", SERVER_NAME="127.0.0.1")
    ids = []
    for index in range(count):
        upload = io.BytesIO(sample_jpeg(index))
        upload.name = f"chaos-{index}.jpg"
        response = client.post(
            "/api/v1/submissions/", {"media": upload, "external_id": f"chaos-{index}"}
        )
        if response.status_code != 202:
            raise RuntimeError(
                f"submission {index}: HTTP {response.status_code} {response.content!r}"
            )
        ids.append(response.json()["id"])
    return ids


def _settled(ids: list[int]) -> bool:
    from integrations.models import Delivery
    from moderation.models import Submission

    open_submissions = Submission.objects.filter(pk__in=ids).exclude(
        status__in=[Submission.Status.ANALYZED, Submission.Status.FAILED]
    )
    return (
        not open_submissions.exists()
        and not Delivery.objects.filter(status=Delivery.Status.PENDING).exists()
    )


def _figures(ids: list[int]) -> dict:
    from django.db.models import Count, Q

    from integrations.models import Delivery
    from moderation.events import SUBMISSION_ANALYZED
    from moderation.models import Event, Submission

    submissions = Submission.objects.filter(pk__in=ids).annotate(
        reports_total=Count("reports", distinct=True),
        reports_current=Count("reports", filter=Q(reports__is_current=True), distinct=True),
    )
    statuses = Counter(s.status for s in submissions)
    analysed = [s for s in submissions if s.status == Submission.Status.ANALYZED]
    events = Counter(
        Event.objects.filter(type=SUBMISSION_ANALYZED, submission_id__in=ids).values_list(
            "submission_id", flat=True
        )
    )
    deliveries = Delivery.objects.filter(event__submission_id__in=ids)
    delivered_ids = set(
        deliveries.filter(status=Delivery.Status.DELIVERED).values_list("webhook_id", flat=True)
    )
    all_ids = set(deliveries.values_list("webhook_id", flat=True))
    received = dict(Receiver.receipts)
    return {
        "submitted": len(ids),
        "statuses": dict(statuses),
        "failure_reasons": dict(
            Counter(s.failure_reason[:80] for s in submissions if s.failure_reason)
        ),
        "lost": len(ids) - statuses["analyzed"] - statuses["failed"],
        "failed": statuses["failed"],
        "analysed_without_exactly_one_current_report": sum(
            1 for s in analysed if s.reports_current != 1
        ),
        "duplicated_reports": sum(max(0, s.reports_total - 1) for s in submissions),
        "analysed_without_event": sum(1 for s in analysed if events[s.pk] == 0),
        "duplicated_events": sum(max(0, n - 1) for n in events.values()),
        "deliveries": len(all_ids),
        "deliveries_delivered": len(delivered_ids),
        "deliveries_not_delivered": len(all_ids - delivered_ids),
        "events_without_delivery": sum(
            1
            for s in analysed
            if events[s.pk] and not deliveries.filter(event__submission=s).exists()
        ),
        "receiver_unique_ids": len(set(received) & all_ids),
        "receiver_missing_ids": len(all_ids - set(received)),
        "receiver_repeated_posts": sum(n - 1 for n in received.values() if n > 1),
        "receiver_bad_signatures": Receiver.bad_signatures,
    }


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--kill-every", type=float, nargs=2, default=(15.0, 40.0), metavar=("MIN", "MAX")
    )
    parser.add_argument(
        "--min-kills", type=int, default=1, help="keep killing until this many kills mid-task"
    )
    parser.add_argument("--max-kills", type=int, help="stop killing after this many")
    parser.add_argument("--resume-every", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="for the whole run")
    parser.add_argument("--database", default="provenant_chaos")
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="provenant-chaos-"))
    env = loopback_environment(args, data_dir)
    database_prepare(args, env)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.development"
    sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]
    import django

    django.setup()
    from accounts.services import api_client_create

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issued = api_client_create(
        name="Chaos SNS", callback_url=f"http://127.0.0.1:{server.server_port}/hooks"
    )
    Receiver.secret_key = base64.b64decode(issued.webhook_secret.removeprefix("whsec_"))
    workers = [Worker(i, env, data_dir) for i in range(args.workers)]
    stop_chaos, stop_resume = threading.Event(), threading.Event()
    kills: list[float] = []
    restarts: list[threading.Thread] = []
    repaired: Counter[str] = Counter()
    chaos = threading.Thread(
        target=_chaos, args=(workers, args, stop_chaos, kills, restarts), daemon=True
    )
    resume = threading.Thread(
        target=_resume_loop, args=(stop_resume, args.resume_every, repaired), daemon=True
    )
    started = time.monotonic()
    try:
        for worker in workers:
            worker.start()
        chaos.start()
        resume.start()
        ids = _submit(args.items, issued.token)
        submitted_in = time.monotonic() - started
        # Keep killing while the backlog drains, until CHAOS_UNTIL_SETTLED of it is done and
        # --min-kills workers died mid-task (a killed task comes back after the visibility
        # timeout, so there is work to kill until then).
        from moderation.models import Submission

        terminal = [Submission.Status.ANALYZED, Submission.Status.FAILED]
        while time.monotonic() < started + args.timeout:
            done = Submission.objects.filter(pk__in=ids, status__in=terminal).count()
            if done == len(ids) or (
                done >= CHAOS_UNTIL_SETTLED * len(ids) and len(kills) >= args.min_kills
            ):
                break
            time.sleep(0.5)
        stop_chaos.set()
        chaos.join()
        deadline = started + args.timeout
        while not _settled(ids) and time.monotonic() < deadline:
            time.sleep(1)
        settled_in = time.monotonic() - started
    finally:
        stop_chaos.set()
        stop_resume.set()
        chaos.join()
        for restart in restarts:
            restart.join()  # a worker coming back is stopped with the others
        for worker in workers:
            worker.stop()
        server.shutdown()
    figures = _figures(ids)
    figures.update(
        workers=args.workers,
        kills=len(kills),
        kill_times_s=kills,
        resume_repairs=dict(repaired),
        submitted_in_s=round(submitted_in, 1),
        settled_in_s=round(settled_in, 1),
        items_per_s=round(len(ids) / settled_in, 2),
    )
    ok = not any(
        figures[key]
        for key in (
            "lost", "failed", "analysed_without_exactly_one_current_report", "duplicated_reports",
            "analysed_without_event", "duplicated_events", "deliveries_not_delivered",
            "events_without_delivery", "receiver_missing_ids", "receiver_bad_signatures",
        )
    )  # fmt: skip
    figures["ok"] = ok
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
