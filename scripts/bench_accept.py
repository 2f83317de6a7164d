"""Throughput of the accept paths against gunicorn: POST /api/v1/submissions/ (default) or the
signed inbound webhook (issue 7).

    python scripts/bench_accept.py [--seconds 20] [--workers 2] [--threads 8] [--clients 16]
        [--endpoint submissions|webhook-url|webhook-base64]

`webhook-url` deliveries carry a media URL (stored, fetch queued); `webhook-base64` ones carry
the JPEG itself (validated and stored, submission made in the request). Every webhook has a
fresh webhook-id and a valid Standard Webhooks signature, computed before the clock starts.

Starts gunicorn (production settings, behind a pretend TLS proxy: X-Forwarded-Proto; gthread
workers as the Dockerfile runs them) on loopback with its own PostgreSQL database, DATA_DIR and
Redis database; creates an API client; posts distinct JPEGs (no two requests share content, so
nothing is deduplicated) over --clients keep-alive connections for --seconds; prints requests/s,
latency percentiles and CPU time per request of gunicorn, of the load generator (one process,
non-blocking sockets, requests built before the clock starts) and of the whole machine. The
enqueued analysis tasks wait in Redis (no worker runs) and are dropped at the end.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import multiprocessing
import os
import re
import secrets
import selectors
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from measure import (
    api_client_setup,
    free_port,
    percentile,
    require_empty_broker,
    tree_cpu_seconds,
)

if TYPE_CHECKING:
    from accounts.services import IssuedClient

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
# Requests per second the prebuilt requests can sustain for --seconds (more than was ever
# measured; "accepted" equal to the prebuilt count would mean the run ran out of requests).
MAX_RATE = {"submissions": 600, "webhook-url": 1500, "webhook-base64": 600}
SERVICES = ("postgres", "redis-server")
MAX_SECONDS, MAX_CLIENTS = 300, 64  # bounded: everything runs on loopback, on this machine


def setup() -> IssuedClient:
    """Database, migrations and a fresh API client (its token and webhook secret)."""
    return api_client_setup("bench")


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


ENDPOINTS = ("submissions", "webhook-url", "webhook-base64")


def contents_for(endpoint: str, count: int, side: int, seed: int) -> list[bytes]:
    """The images the requests carry; webhook-url deliveries name their media instead."""
    return [b""] * count if endpoint == "webhook-url" else make_images(count, side, seed)


def raw_request(port: int, issued: IssuedClient, endpoint: str, content: bytes, key: str) -> bytes:
    """One complete HTTP/1.1 request, built (and signed) before the clock starts."""
    if endpoint == "submissions":
        path = "/api/v1/submissions/"
        body, content_type = multipart(content, key)
        headers = {"Authorization": f"Bearer {issued.token}"}
    else:
        from integrations.signing import signed_headers

        path = f"/api/v1/webhooks/inbound/{issued.client.slug}/"
        data: dict[str, object] = {"id": key, "caption": "bench", "reach": len(key)}
        if endpoint == "webhook-url":
            data["media_url"] = f"https://cdn.example-sns.test/bench/{key}.jpg"
        else:
            data["media_base64"] = base64.b64encode(content).decode()
        body = json.dumps({"type": "content.created", "data": data}).encode()
        content_type = "application/json"
        headers = signed_headers(
            secrets=[issued.webhook_secret], webhook_id=f"msg_{key}_{uuid.uuid4().hex}", body=body
        )
    head = "".join(
        [
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n",
            *(f"{name}: {value}\r\n" for name, value in headers.items()),
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n",
            "X-Forwarded-Proto: https\r\n\r\n",
        ]
    )
    return head.encode() + body


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)


class _Exchange:
    """One keep-alive connection: send a prebuilt request, read one response, repeat."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.socket = self._connect()
        self.outgoing = memoryview(b"")
        self.incoming = bytearray()
        self.started = 0.0

    def _connect(self) -> socket.socket:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.setblocking(False)
        return connection

    def reconnect(self) -> None:
        self.socket.close()
        self.socket = self._connect()

    def response(self) -> tuple[int, bool] | None:
        """(status, server closes) once a whole response is in, else None."""
        head_end = self.incoming.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = bytes(self.incoming[:head_end])
        length = _CONTENT_LENGTH.search(head)
        total = head_end + 4 + (int(length.group(1)) if length else 0)
        if len(self.incoming) < total:
            return None
        del self.incoming[:total]
        return int(head[9:12]), bool(_CLOSE.search(head))


def client_process(port: int, requests: list[bytes], connections: int, until: float, out):
    """Drive `connections` keep-alive connections from one thread (non-blocking sockets and a
    selector), so the load generator costs far less CPU than the server it measures; each
    request is sent once (distinct content), and the process reports its own CPU time."""
    cpu_started = time.process_time()
    latencies: list[float] = []
    failures: list[int] = []
    pending = iter(requests)
    selector = selectors.DefaultSelector()

    def send_next(exchange: _Exchange) -> bool:
        request = next(pending, None) if time.time() < until else None
        if request is None:
            selector.unregister(exchange.socket)
            exchange.socket.close()
            return False
        exchange.outgoing = memoryview(request)
        exchange.started = time.perf_counter()
        selector.modify(exchange.socket, selectors.EVENT_WRITE, exchange)
        return True

    active = 0
    for _ in range(connections):
        exchange = _Exchange(port)
        selector.register(exchange.socket, selectors.EVENT_WRITE, exchange)
        active += send_next(exchange)
    while active:
        for key, events in selector.select(timeout=30):
            exchange = key.data
            if events & selectors.EVENT_WRITE:
                sent = exchange.socket.send(exchange.outgoing)
                exchange.outgoing = exchange.outgoing[sent:]
                if not exchange.outgoing:
                    selector.modify(exchange.socket, selectors.EVENT_READ, exchange)
                continue
            data = exchange.socket.recv(65536)
            if not data:
                raise SystemExit("the server closed a connection in the middle of a response")
            exchange.incoming += data
            answer = exchange.response()
            if answer is None:
                continue
            status, closes = answer
            if status == 202:
                latencies.append((time.perf_counter() - exchange.started) * 1000)
            else:
                failures.append(status)
            if closes:
                selector.unregister(exchange.socket)
                exchange.reconnect()
                selector.register(exchange.socket, selectors.EVENT_WRITE, exchange)
            active -= not send_next(exchange)
    out.put((latencies, failures, time.process_time() - cpu_started))


def named_cpu_seconds(names: tuple[str, ...]) -> float:
    """User + system CPU time of every process whose command name is in `names` (Linux /proc);
    PostgreSQL backends come and go, so compare totals over a run only as an estimate."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()
        if name in names:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def machine_busy_seconds() -> float:
    """CPU time all cores spent outside idle and I/O wait since boot (Linux /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=8, help="threads per worker (gthread; 1 = sync workers)"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--side", type=int, default=320, help="pixel side of the JPEGs")
    parser.add_argument("--endpoint", choices=ENDPOINTS, default="submissions")
    options = parser.parse_args()
    if not 0 < options.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be more than 0 and at most {MAX_SECONDS}")
    if not 1 <= options.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be 1 to {MAX_CLIENTS}")
    require_empty_broker()
    issued = setup()
    from moderation.models import Submission

    rows_before = Submission.objects.count()
    port = free_port()
    run = uuid.uuid4().hex[:8]  # external ids and webhook-ids unique across runs
    count = int(options.seconds * MAX_RATE[options.endpoint]) + 50  # none is sent twice
    contents = contents_for(options.endpoint, count, options.side, seed=1)
    requests = [
        raw_request(port, issued, options.endpoint, content, f"bench-{run}-{index}")
        for index, content in enumerate(contents)
    ]
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
        warm_requests = [
            raw_request(port, issued, options.endpoint, content, f"warm-{run}-{index}")
            for index, content in enumerate(
                contents_for(options.endpoint, options.workers * 16, options.side, seed=99)
            )
        ]
        client_process(port, warm_requests, options.workers * 2, time.time() + 120, warm)
        warm.get()
        cpu_before = tree_cpu_seconds(gunicorn.pid)
        machine_before = machine_busy_seconds()
        services_before = named_cpu_seconds(SERVICES)
        queue: multiprocessing.Queue = multiprocessing.Queue()
        until = time.time() + options.seconds
        started = time.perf_counter()
        child = multiprocessing.Process(
            target=client_process, args=(port, requests, options.clients, until, queue)
        )
        child.start()
        latencies, failures, client_cpu = queue.get()
        child.join()
        elapsed = time.perf_counter() - started
        server_cpu = tree_cpu_seconds(gunicorn.pid) - cpu_before
        machine_cpu = machine_busy_seconds() - machine_before
        services_cpu = named_cpu_seconds(SERVICES) - services_before
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    latencies.sort()
    accepted = max(1, len(latencies))
    summary = {
        "accepted": len(latencies),
        "failed": len(failures),
        "failed_statuses": sorted(set(failures)),
        "seconds": round(elapsed, 1),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
        },
        "endpoint": options.endpoint,
        "gunicorn_cpu_ms_per_request": round(server_cpu * 1000 / accepted, 2),
        "load_generator_cpu_ms_per_request": round(client_cpu * 1000 / accepted, 2),
        "postgres_and_redis_cpu_ms_per_request": round(services_cpu * 1000 / accepted, 2),
        # Everything the machine did meanwhile, PostgreSQL and Redis included (and, on a shared
        # machine, other people's jobs).
        "machine_cpu_ms_per_request": round(machine_cpu * 1000 / accepted, 2),
        "load_average_1min_at_end": os.getloadavg()[0],
        "image_bytes_mean": round(statistics.mean(len(b) for b in contents[:100])),
        "rows_created": Submission.objects.count() - rows_before,
        "prebuilt_requests": count,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
