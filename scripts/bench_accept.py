"""Throughput of the submission accept path: POST /api/v1/submissions/ against gunicorn.

    python scripts/bench_accept.py [--seconds 20] [--workers 4] [--clients 16] [--side 320]

Starts gunicorn (production settings, behind a pretend TLS proxy: X-Forwarded-Proto) on
loopback with its own PostgreSQL database, DATA_DIR and Redis database; creates an API client;
posts distinct JPEGs (no two requests share content, so nothing is deduplicated) from
--clients concurrent connections for --seconds; prints requests/s and latency percentiles. The
enqueued analysis tasks wait in Redis (no worker runs) and are dropped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/provenant_bench_accept",
    "DATA_DIR": str(REPO_DIR / "var" / "bench-accept"),
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/8",
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "127.0.0.1",
    "LOG_LEVEL": "WARNING",
}
for _key, _value in ENV.items():
    os.environ.setdefault(_key, _value)
sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]


def setup() -> str:
    """Database, migrations and a fresh API client; returns its token."""
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            db.execute(f'create database "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO_DIR, check=True
    )
    import django

    django.setup()
    from accounts.services import api_client_create

    return api_client_create(name=f"bench {uuid.uuid4().hex[:8]}").token


def make_images(count: int, side: int, seed: int) -> list[bytes]:
    import cv2
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        small = rng.integers(0, 256, (side // 16, side // 16, 3), dtype=np.uint8)
        pixels = cv2.resize(small, (side, side), interpolation=cv2.INTER_CUBIC)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
        images.append(buffer.getvalue())
    return images


def multipart(content: bytes, external_id: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="external_id"\r\n\r\n'
        f"{external_id}\r\n".encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode(),
        content,
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def client_process(port: int, token: str, images: list[bytes], threads: int, until: float, out):
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    counter = iter(range(len(images)))

    def loop() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # keep-alive
        while time.time() < until:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            body, content_type = multipart(images[index], f"bench-{os.getpid()}-{index}")
            started = time.perf_counter()
            connection.request(
                "POST",
                "/api/v1/submissions/",
                body=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": content_type,
                    "X-Forwarded-Proto": "https",
                },
            )
            response = connection.getresponse()
            response.read()
            if response.will_close:
                connection.close()
            with lock:
                if response.status == 202:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    failures.append(response.status)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put((latencies, failures))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (Linux /proc), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        pending += [int(child) for child in children]
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_empty_broker() -> None:
    """Refuse a Redis database someone else is using: our worker would eat their tasks, and the
    final flush would drop them."""
    import redis

    keys = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).dbsize()
    if keys:
        raise SystemExit(
            f"{os.environ['CELERY_BROKER_URL']} holds {keys} keys: it is in use; set "
            "CELERY_BROKER_URL to an empty Redis database"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=8, help="threads per worker (gthread; 1 = sync workers)"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--side", type=int, default=320, help="pixel side of the JPEGs")
    options = parser.parse_args()
    require_empty_broker()
    token = setup()
    from moderation.models import Submission

    rows_before = Submission.objects.count()
    processes = 2
    per_process = int(options.seconds * 600 / processes) + 50  # more than can be sent
    images = [make_images(per_process, options.side, seed) for seed in range(processes)]
    port = free_port()
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "-b",
         f"127.0.0.1:{port}", "-w", str(options.workers), "--log-level", "warning",
         *(["--worker-class", "gthread", "--threads", str(options.threads)]
           if options.threads > 1 else [])],
        cwd=REPO_DIR, env={**os.environ, "PYTHONPATH": f"{REPO_DIR}:{REPO_DIR / 'platform'}"},
    )  # fmt: skip
    import redis

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or gunicorn.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        # Warm-up: every gunicorn worker imports the URL conf and opens its connections on its
        # first requests; those seconds are start-up, not the accept path.
        warm: multiprocessing.Queue = multiprocessing.Queue()
        warm_images = make_images(options.workers * 8, options.side, seed=99)
        client_process(port, token, warm_images, options.workers * 2, time.time() + 120, warm)
        warm.get()
        cpu_before = tree_cpu_seconds(gunicorn.pid)
        queue: multiprocessing.Queue = multiprocessing.Queue()
        until = time.time() + options.seconds
        started = time.perf_counter()
        children = [
            multiprocessing.Process(
                target=client_process,
                args=(port, token, images[i], options.clients // processes, until, queue),
            )
            for i in range(processes)
        ]
        for child in children:
            child.start()
        results = [queue.get() for _ in children]
        for child in children:
            child.join()
        elapsed = time.perf_counter() - started
        server_cpu = tree_cpu_seconds(gunicorn.pid) - cpu_before
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    latencies = sorted(ms for batch, _ in results for ms in batch)
    failures = [status for _, batch in results for status in batch]
    summary = {
        "accepted": len(latencies),
        "failed": len(failures),
        "seconds": round(elapsed, 1),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        },
        "gunicorn_cpu_ms_per_request": round(server_cpu * 1000 / max(1, len(latencies)), 1),
        "load_average_1min_at_end": os.getloadavg()[0],
        "image_bytes_mean": round(statistics.mean(len(b) for b in images[0][:100])),
        "rows_created": Submission.objects.count() - rows_before,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
