"""Crafted requests against a live gunicorn, as issue 14's probe sent them: each must be refused
with a 4xx and a `code` (or accepted, where it is a real photo), quickly, storing nothing.

    python scripts/probe_crafted.py [--workers 2]

Starts gunicorn (production settings, gthread workers as the Dockerfile runs them) on loopback
with its own PostgreSQL database, DATA_DIR and Redis database (no worker: analyses wait in Redis
and are dropped at the end), creates an API client, then sends, one by one:
- POST /api/v1/submissions/ with metadata holding an integer of 401 digits, a NUL character,
  100,000 levels of nesting, a `javascript:` url;
- signed inbound webhooks with `\\u0000` in a string and in a key, 50,000 levels of nesting, an
  integer of 5,000 digits;
- GET /api/v1/submissions/ and /api/v1/references/ with ?limit=9223372036854775809;
- the 1.7 MB JPEG scan bomb (7000x7000, last scan repeated 30,000 times), twice at the same
  time, while /healthz is polled: it must stay fast;
- a camera JPEG with 23 KB of trailing data (Debian mate-backgrounds Wood.jpg), accepted.
Prints one JSON object: per probe the status, code, wall ms and whether it met expectations, the
/healthz latency during the bombs, and the rows stored; exits 1 when any probe failed.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from measure import api_client_setup, free_port, percentile, require_empty_broker

if TYPE_CHECKING:
    from accounts.services import IssuedClient

REPO_DIR = Path(__file__).resolve().parents[1]
ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/provenant_probe_crafted",
    "DATA_DIR": str(REPO_DIR / "var" / "probe-crafted"),
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "0",
    "LOG_LEVEL": "WARNING",
}
for _key, _value in ENV.items():
    os.environ.setdefault(_key, _value)
sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]
CAMERA_JPEG = Path("/usr/share/backgrounds/mate/nature/Wood.jpg")
REQUEST_TIMEOUT_SECONDS = 60.0
# Issue 14: any upload is refused in under 1 s of CPU; wall time allows for the second bomb and
# a loaded 2-core machine.
MAX_REFUSAL_MS = 2000.0
MAX_HEALTHZ_MS = 1000.0


@dataclass(frozen=True)
class Probe:
    name: str
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    expect_status: int
    expect_code: str | None


def setup() -> IssuedClient:
    issued = api_client_setup("probe")
    from django.contrib.auth.models import Permission

    # Clients do not list references by default; the limit probe needs a caller who may.
    issued.client.user.user_permissions.add(
        Permission.objects.get(content_type__app_label="factcheck", codename="view_reference")
    )
    return issued


def _hostile_corpus():
    spec = importlib.util.spec_from_file_location(
        "hostile_corpus", REPO_DIR / "scripts" / "hostile_corpus.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def multipart(fields: dict[str, str], media: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts += [
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode(),
        media,
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def probes(issued: IssuedClient, small_jpeg: bytes, bomb: bytes) -> list[Probe]:
    from integrations.signing import signed_headers

    token = {"Authorization": f"Bearer {issued.token}", "X-Forwarded-Proto": "https"}

    def submission(name: str, metadata: str, code: str | None, media: bytes = small_jpeg) -> Probe:
        body, content_type = multipart({"metadata": metadata}, media)
        headers = {**token, "Content-Type": content_type}
        return Probe(name, "POST", "/api/v1/submissions/", body, headers, 400, code)

    def webhook(name: str, data: str, code: str) -> Probe:
        body = f'{{"type": "content.created", "data": {{"id": "p", {data}}}}}'.encode()
        headers = signed_headers(
            secrets=[issued.webhook_secret], webhook_id=f"msg_{uuid.uuid4().hex}", body=body
        )
        headers.update({"Content-Type": "application/json", "X-Forwarded-Proto": "https"})
        path = f"/api/v1/webhooks/inbound/{issued.client.slug}/"
        return Probe(name, "POST", path, body, headers, 400, code)

    url = '"media_url": "https://cdn.example/a.jpg"'
    huge_limit = "?limit=9223372036854775809"
    bomb_body, bomb_type = multipart({}, bomb)
    listed = [
        submission("api metadata integer of 401 digits", '{"reach": 1' + "0" * 400 + "}",
                   "number_out_of_range"),
        submission("api metadata NUL", '{"note": "\\u0000"}', "nul_character"),
        submission("api metadata 100,000 deep", '{"a":' * 100_000 + "1" + "}" * 100_000,
                   "too_deep"),
        submission("api metadata javascript: url", '{"url": "javascript:alert(1)"}',
                   "invalid_metadata"),
        webhook("webhook NUL in a string", '"caption": "a\\u0000b", ' + url, "nul_character"),
        webhook("webhook NUL in a key", '"x\\u0000": 1, ' + url, "nul_character"),
        webhook("webhook 50,000 deep", '"deep": ' + "[" * 50_000 + "]" * 50_000 + ", " + url,
                "too_deep"),
        webhook("webhook integer of 5,000 digits", '"reach": ' + "9" * 5000 + ", " + url,
                "number_out_of_range"),
        Probe("submissions ?limit=2^63+1", "GET", "/api/v1/submissions/" + huge_limit, b"", token,
              400, "invalid_pagination"),
        Probe("references ?limit=2^63+1", "GET", "/api/v1/references/" + huge_limit, b"", token,
              400, "invalid_pagination"),
        Probe("scan bomb (1.7 MB, 30,000 scans)", "POST", "/api/v1/submissions/", bomb_body,
              {**token, "Content-Type": bomb_type}, 400, "too_many_scans"),
    ]  # fmt: skip
    if CAMERA_JPEG.exists():
        body, content_type = multipart({}, CAMERA_JPEG.read_bytes())
        listed.append(
            Probe("camera JPEG with trailing data (Wood.jpg)", "POST", "/api/v1/submissions/",
                  body, {**token, "Content-Type": content_type}, 202, None)
        )  # fmt: skip
    return listed


def send(port: int, probe: Probe) -> dict[str, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_SECONDS)
    started = time.perf_counter()
    try:
        connection.request(probe.method, probe.path, body=probe.body or None, headers=probe.headers)
        response = connection.getresponse()
        payload = response.read()
        status = response.status
    except OSError as error:
        return {"probe": probe.name, "ok": False, "error": str(error)}
    finally:
        connection.close()
    wall_ms = (time.perf_counter() - started) * 1000
    try:
        code = json.loads(payload).get("code")
    except (ValueError, AttributeError):
        code = None
    ok = status == probe.expect_status and (probe.expect_code is None or code == probe.expect_code)
    if status >= 400:
        ok = ok and wall_ms <= MAX_REFUSAL_MS
    return {"probe": probe.name, "status": status, "code": code, "wall_ms": round(wall_ms, 1),
            "ok": ok}  # fmt: skip


ActionT = TypeVar("ActionT")


def healthz_during(port: int, action: Callable[[], ActionT]) -> tuple[ActionT, list[float]]:
    """Run `action` while polling /healthz from another thread; the polls' latencies in ms."""
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            started = time.perf_counter()
            try:
                connection.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
                connection.getresponse().read()
                latencies.append((time.perf_counter() - started) * 1000)
            except OSError:
                latencies.append(30_000.0)
            finally:
                connection.close()
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        result = action()
    finally:
        done.set()
        poller.join()
    return result, latencies


def start_gunicorn(port: int, workers: int) -> subprocess.Popen[bytes]:
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--worker-class", "gthread", "--threads", "4",
         "--log-level", "warning"],
        cwd=REPO_DIR, env={**os.environ, "PYTHONPATH": f"{REPO_DIR}:{REPO_DIR / 'platform'}"},
    )  # fmt: skip
    import socket

    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return gunicorn
        except OSError:
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                gunicorn.kill()
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    options = parser.parse_args()
    require_empty_broker()
    issued = setup()
    from integrations.models import InboundWebhook
    from mediastore.models import MediaObject
    from moderation.models import Submission

    corpus = _hostile_corpus()
    small_jpeg = base64.b64decode(
        json.loads((REPO_DIR / "tests/fixtures/webhooks/content_created_base64.json").read_text())[
            "data"
        ]["media_base64"]
    )
    bomb = corpus.jpeg_scan_bomb(side=7000, repeats=30_000)
    listed = probes(issued, small_jpeg, bomb)
    before = (
        Submission.objects.count(),
        MediaObject.objects.count(),
        InboundWebhook.objects.count(),
    )
    port = free_port()
    gunicorn = start_gunicorn(port, options.workers)
    import redis

    try:
        send(
            port,
            Probe("warm-up", "GET", "/healthz", b"", {"X-Forwarded-Proto": "https"}, 200, None),
        )
        results = [send(port, probe) for probe in listed]
        bomb_probe = next(p for p in listed if p.name.startswith("scan bomb"))

        def two_bombs() -> list[dict[str, object]]:
            answers: list[dict[str, object]] = []
            threads = [
                threading.Thread(target=lambda: answers.append(send(port, bomb_probe)))
                for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return answers

        concurrent, healthz = healthz_during(port, two_bombs)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    after = (
        Submission.objects.count(),
        MediaObject.objects.count(),
        InboundWebhook.objects.count(),
    )
    accepted = sum(1 for r in results if r.get("status") == 202)
    healthz_max = max(healthz) if healthz else None
    summary = {
        "probes": results,
        "two_concurrent_scan_bombs": concurrent,
        "healthz_during_bombs_ms": {
            "polls": len(healthz),
            "p50": round(percentile(healthz, 0.5), 1) if healthz else None,
            "max": round(healthz_max, 1) if healthz_max is not None else None,
        },
        "submissions_created": after[0] - before[0],
        "accepted_probes": accepted,
        "inbound_rows_created": after[2] - before[2],
        "refused": sum(1 for r in results if r["ok"] and r.get("status") != 202),
        "failed_probes": [r["probe"] for r in results + concurrent if not r["ok"]],
    }
    summary["all_ok"] = (
        not summary["failed_probes"]
        and summary["submissions_created"] == accepted
        and summary["inbound_rows_created"] == 0
        and healthz_max is not None
        and healthz_max <= MAX_HEALTHZ_MS
    )
    print(json.dumps(summary, indent=2))
    return 0 if summary["all_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
