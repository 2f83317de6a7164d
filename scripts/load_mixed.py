"""Mixed load on loopback: submissions, report polls, review UI pages and signed inbound webhooks
against gunicorn, with a Celery worker analysing and delivering events meanwhile.

    python scripts/load_mixed.py [--seconds 60] [--concurrency 8] [--gunicorn-workers 2] [--json]

Loopback only (PostgreSQL, Redis, gunicorn, the worker and the event receiver on 127.0.0.1).
The database (--database, default provenant_load) is migrated and EMPTIED first, Redis database
--redis-db flushed. Reports per kind of request: count, throughput, p50/p99 latency and errors
(an unexpected status or a failed request), plus the peak resident memory of the gunicorn and
Celery process trees and how far analysis kept up. Exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from http.server import ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos import (
    REPO_DIR,
    Receiver,
    Worker,
    database_prepare,
    loopback_environment,
    sample_jpeg,
)
from measure import free_port

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
MIX = {"submit": 0.2, "poll": 0.4, "ui": 0.25, "webhook": 0.15}
EXPECTED = {"submit": {202}, "poll": {200, 409}, "ui": {200}, "webhook": {202}}
REQUEST_TIMEOUT_SECONDS = 30
MODERATOR_PASSWORD = "load-test moderator password"  # a throwaway database only


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (from /proc)."""
    children = subprocess.run(
        ["ps", "-o", "pid=,ppid=,rss=", "-A"], capture_output=True, text=True, check=True
    ).stdout.split()
    rows = [tuple(map(int, children[i : i + 3])) for i in range(0, len(children), 3)]
    tree, total = {pid}, 0
    changed = True
    while changed:
        changed = False
        for child, parent, _ in rows:
            if parent in tree and child not in tree:
                tree.add(child)
                changed = True
    for child, _, rss in rows:
        if child in tree:
            total += rss
    return total / 1024


class Load:
    def __init__(self, base: str, token: str, slug: str, secret: str, seed: int) -> None:
        self.base, self.token, self.slug, self.secret = base, token, slug, secret
        self.rng = random.Random(seed)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []
        self.submission_ids: list[int] = []
        self.counter = 0
        self.lock = threading.Lock()

    def _record(self, kind: str, started: float, status: int | None, detail: str = "") -> None:
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.latencies[kind].append(elapsed)
            if status not in EXPECTED[kind]:
                self.errors[kind] += 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(f"{kind}: {status} {detail[:200]}")

    def _next(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def run(self, session: requests.Session, ui: requests.Session, kind: str) -> None:
        if kind == "poll" and not self.submission_ids:
            kind = "submit"  # nothing to poll yet
        started = time.perf_counter()
        try:
            status, detail = getattr(self, f"_{kind}")(session, ui)
        except requests.RequestException as error:
            status, detail = None, str(error)
        self._record(kind, started, status, detail)

    def _submit(self, session: requests.Session, ui: requests.Session) -> tuple[int, str]:
        index = self._next()
        response = session.post(
            f"{self.base}/api/v1/submissions/",
            files={"media": (f"load-{index}.jpg", sample_jpeg(100_000 + index), "image/jpeg")},
            data={"external_id": f"load-{index}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        if response.status_code == 202:
            with self.lock:
                self.submission_ids.append(response.json()["id"])
        return response.status_code, response.text

    def _poll(self, session: requests.Session, ui: requests.Session) -> tuple[int, str]:
        with self.lock:
            pk = self.rng.choice(self.submission_ids[-200:])
        path = "report/" if self.rng.random() < 0.5 else ""
        response = session.get(
            f"{self.base}/api/v1/submissions/{pk}/{path}", timeout=REQUEST_TIMEOUT_SECONDS
        )
        return response.status_code, response.text

    def _ui(self, session: requests.Session, ui: requests.Session) -> tuple[int, str]:
        page = self.rng.choice(["/review/", "/review/?status=pending", "/cases/", "/"])
        response = ui.get(f"{self.base}{page}", timeout=REQUEST_TIMEOUT_SECONDS)
        return response.status_code, response.text

    def _webhook(self, session: requests.Session, ui: requests.Session) -> tuple[int, str]:
        from integrations.signing import signed_headers

        index = self._next()
        body = json.dumps(
            {
                "type": "content.created",
                "data": {
                    "id": f"hook-{index}",
                    "media_base64": base64.b64encode(sample_jpeg(200_000 + index)).decode(),
                    "caption": "load test",
                    "reach": index,
                },
            }
        ).encode()
        headers = signed_headers(
            secrets=[self.secret], webhook_id=f"msg_{uuid.uuid4().hex}", body=body
        )
        headers["Content-Type"] = "application/json"
        response = requests.post(
            f"{self.base}/api/v1/webhooks/inbound/{self.slug}/",
            data=body,
            headers=headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        return response.status_code, response.text


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1) if ordered else 0.0


def _login(base: str, username: str) -> requests.Session:
    ui = requests.Session()
    page = ui.get(f"{base}/accounts/login/", timeout=REQUEST_TIMEOUT_SECONDS)
    token = page.cookies.get("csrftoken") or ui.cookies.get("csrftoken")
    response = ui.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": MODERATOR_PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=REQUEST_TIMEOUT_SECONDS,
        allow_redirects=False,
    )
    if response.status_code != 302:
        raise RuntimeError(f"moderator login failed: HTTP {response.status_code}")
    return ui


def _drive(load: Load, args: argparse.Namespace, ui_user: str) -> float:
    deadline = time.monotonic() + args.seconds
    kinds, weights = zip(*MIX.items(), strict=True)

    def client(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {load.token}"
        ui = _login(load.base, ui_user)
        while time.monotonic() < deadline:
            load.run(session, ui, rng.choices(kinds, weights)[0])

    started = time.monotonic()
    threads = [
        threading.Thread(target=client, args=(args.seed + i,)) for i in range(args.concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--celery-workers", type=int, default=1)
    parser.add_argument("--database", default="provenant_load")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = _parse(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="provenant-load-"))
    env = loopback_environment(args, data_dir)
    env["ALLOWED_HOSTS"] = "127.0.0.1"
    # Named for gunicorn too: config.wsgi alone would pick production (plain HTTP here, no key).
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.development"
    database_prepare(args, env)
    os.environ.update(env)
    sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]
    import django

    django.setup()
    from django.contrib.auth.models import Group

    from accounts.models import User
    from accounts.roles import MODERATOR, roles_sync
    from accounts.services import api_client_create
    from moderation.models import Submission

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    issued = api_client_create(
        name="Load SNS", callback_url=f"http://127.0.0.1:{receiver.server_port}/hooks"
    )
    Receiver.secret_key = base64.b64decode(issued.webhook_secret.removeprefix("whsec_"))
    roles_sync()
    moderator = User.objects.create_user(username="load-moderator", password=MODERATOR_PASSWORD)
    moderator.groups.add(Group.objects.get(name=MODERATOR))
    port = free_port()
    gunicorn_log = (data_dir / "gunicorn.log").open("w")
    gunicorn = subprocess.Popen(
        [GUNICORN, "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(args.gunicorn_workers),
         "-k", "gthread", "--threads", "4", "--timeout", "60"],
        cwd=REPO_DIR, env=env, stdout=gunicorn_log, stderr=gunicorn_log,
    )  # fmt: skip
    workers = [Worker(i, env, data_dir) for i in range(args.celery_workers)]
    base = f"http://127.0.0.1:{port}"
    peak = {"gunicorn_mb": 0.0, "celery_mb": 0.0}
    stop = threading.Event()
    try:
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.5)

        def sample() -> None:
            while not stop.wait(1.0):
                peak["gunicorn_mb"] = max(peak["gunicorn_mb"], _tree_rss_mb(gunicorn.pid))
                celery = sum(_tree_rss_mb(w.process.pid) for w in workers if w.process)
                peak["celery_mb"] = max(peak["celery_mb"], celery)

        threading.Thread(target=sample, daemon=True).start()
        load = Load(base, issued.token, issued.client.slug, issued.webhook_secret, args.seed)
        elapsed = _drive(load, args, moderator.username)
        analysed = Submission.objects.filter(status=Submission.Status.ANALYZED).count()
        total = Submission.objects.count()
    finally:
        stop.set()
        for worker in workers:
            worker.stop()
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)
        receiver.shutdown()
    requests_total = sum(len(v) for v in load.latencies.values())
    figures = {
        "seconds": round(elapsed, 1),
        "concurrency": args.concurrency,
        "gunicorn_workers": args.gunicorn_workers,
        "celery_workers": args.celery_workers,
        "requests": requests_total,
        "requests_per_s": round(requests_total / elapsed, 1),
        "errors": sum(load.errors.values()),
        "by_kind": {
            kind: {
                "count": len(values),
                "per_s": round(len(values) / elapsed, 1),
                "p50_ms": _percentile(values, 0.50),
                "p99_ms": _percentile(values, 0.99),
                "errors": load.errors.get(kind, 0),
            }
            for kind, values in sorted(load.latencies.items())
        },
        "error_samples": load.error_samples,
        "submissions_created": total,
        "submissions_analysed_by_end": analysed,
        "events_received": len(Receiver.receipts),
        "peak_rss_mb": {k: round(v, 1) for k, v in peak.items()},
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=1))
    return 0 if figures["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
