"""Fixtures of the webhook tests (helpers are in webhook_helpers.py)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection

from tests.integrations.webhook_helpers import LoopbackServer, Recorded


@pytest.fixture
def sns(api_client_credentials):
    """The 'Example SNS' client and its first secret."""
    return api_client_credentials


class QueuedAnalyses:
    """Stands in for analyze_submission.delay (no eager pipeline in these tests). The services
    enqueue it on commit, so an analysis counts once its transaction committed, or while it is
    still pending in the test's own transaction; a rolled-back savepoint drops it, as it drops
    the real task."""

    def __init__(self) -> None:
        self.committed: list[int] = []

    def __call__(self, submission_id: int, **_: Any) -> None:
        self.committed.append(submission_id)

    def ids(self) -> list[int]:
        pending = [
            callback.args[0]
            for callback in (entry[1] for entry in connection.run_on_commit)  # (sids, func, robust)
            if isinstance(callback, functools.partial) and callback.func is self
        ]
        return self.committed + pending


@pytest.fixture
def analyses(monkeypatch) -> QueuedAnalyses:
    from moderation.tasks import analyze_submission, analyze_video

    queued = QueuedAnalyses()
    monkeypatch.setattr(analyze_submission, "delay", queued)
    monkeypatch.setattr(analyze_video, "delay", queued)
    return queued


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
