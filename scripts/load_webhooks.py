#!/usr/bin/env python3
"""Load test of the inbound webhook endpoint: signed content.created deliveries, loopback only.

Bounded by --requests and --max-seconds. Every request carries a fresh webhook-id and a valid
Standard Webhooks signature; the report gives throughput and latency percentiles.

    python scripts/load_webhooks.py --base-url http://127.0.0.1:8000 \\
        --client load-sns --secret whsec_... --requests 6000 --concurrency 8 --payload url

It only talks to loopback addresses: pointing it at another host is refused.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import ipaddress
import json
import os
import socket
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from measure import percentile, tree_cpu_seconds

from integrations.signing import signed_headers

MAX_REQUESTS = 50_000
MAX_CONCURRENCY = 64
MAX_SECONDS = 300.0
REQUEST_TIMEOUT_SECONDS = 10.0


def loopback_only(base_url: str) -> tuple[str, int, str]:
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"--base-url must be http://<loopback>:<port>, not {base_url!r}")
    port = parts.port or 80
    for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM):
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            raise SystemExit(f"{parts.hostname!r} is not a loopback address; refusing to load it")
    return parts.hostname, port, parts.path.rstrip("/")


def small_png(seed: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (32, 24), (seed % 256, (seed * 7) % 256, (seed * 13) % 256))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def payload(kind: str, number: int, run_id: str) -> bytes:
    data: dict[str, object] = {
        "id": f"load-{run_id}-{number}",
        "caption": "load test",
        "author": {"id": f"u-{number % 97}"},
        "reach": number,
    }
    if kind == "url":
        data["media_url"] = f"https://cdn.example-sns.test/load/{number}.png"
    else:
        data["media_base64"] = base64.b64encode(small_png(number)).decode()
    return json.dumps({"type": "content.created", "data": data}).encode()


def run(args: argparse.Namespace) -> dict[str, object]:
    host, port, prefix = loopback_only(args.base_url)
    path = f"{prefix}/api/v1/webhooks/inbound/{args.client}/"
    run_id = uuid.uuid4().hex[:8]
    bodies = [payload(args.payload, number, run_id) for number in range(args.requests)]
    next_index = iter(range(args.requests))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    deadline = time.monotonic() + args.max_seconds

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_SECONDS)
        while time.monotonic() < deadline:
            with lock:
                number = next(next_index, None)
            if number is None:
                break
            body = bodies[number]
            headers = signed_headers(
                secrets=[args.secret], webhook_id=f"msg_{run_id}_{number}", body=body
            )
            headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                outcome = str(response.status)
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_SECONDS)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[outcome] += 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    server_cpu = tree_cpu_seconds(args.server_pid) if args.server_pid else 0.0
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if args.server_pid:
        server_cpu = tree_cpu_seconds(args.server_pid) - server_cpu
    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    return {
        "requests": len(latencies),
        "ok_2xx": ok,
        "statuses": dict(statuses),
        "seconds": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        "ok_rps": round(ok / wall, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p95": round(percentile(latencies, 0.95) * 1000, 1),
            "p99": round(percentile(latencies, 0.99) * 1000, 1),
            "max": round(max(latencies) * 1000, 1),
        },
        "payload": args.payload,
        "concurrency": args.concurrency,
        "server_cpu_ms_per_request": (
            round(server_cpu * 1000 / len(latencies), 2) if args.server_pid else None
        ),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--client", required=True, help="The API client's slug.")
    parser.add_argument("--secret", required=True, help="One of its whsec_ secrets.")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument(
        "--server-pid", type=int, help="gunicorn master pid: report its CPU per request too"
    )
    parser.add_argument(
        "--payload",
        choices=["url", "base64"],
        default="url",
        help="media_url (stored, fetch queued) or media_base64 (submission made in the request)",
    )
    args = parser.parse_args()
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be 1 to {MAX_REQUESTS}")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--concurrency must be 1 to {MAX_CONCURRENCY}")
    if not 0 < args.max_seconds <= MAX_SECONDS:
        parser.error(f"--max-seconds must be more than 0 and at most {MAX_SECONDS:g}")
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
