"""Fixtures of the webhook tests (helpers are in webhook_helpers.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integrations.webhook_helpers import LoopbackServer, Recorded


@pytest.fixture
def sns(api_client_credentials):  # type: ignore[no-untyped-def]
    """The 'Example SNS' client and its first secret."""
    return api_client_credentials


@pytest.fixture
def analyses(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Record analysis enqueues instead of running the pipeline in-process (eager Celery)."""
    from moderation.tasks import analyze_submission

    enqueued: list[int] = []
    monkeypatch.setattr(
        analyze_submission,
        "delay_on_commit",
        lambda submission_id, **_: enqueued.append(submission_id),
    )
    return enqueued


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    server_state = LoopbackServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _record(self, body: bytes) -> None:
            with lock:
                server_state.requests.append(
                    Recorded(self.command, self.path, dict(self.headers.items()), body)
                )

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._record(body)
            with lock:
                status = server_state.post_statuses.pop(0) if server_state.post_statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:
            self._record(b"")
            route = server_state.routes.get(self.path)
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            route(self)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield server_state
    httpd.shutdown()
    httpd.server_close()
