"""Webhook test helpers: recorded payloads, signed posts, a loopback HTTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from integrations.signing import signed_headers

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


def webhook_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES_DIR / f"{name}.json").read_text())


def fixture_body(name: str, **data_overrides: Any) -> bytes:
    document = webhook_fixture(name)
    document["data"].update(data_overrides)
    return json.dumps(document).encode()


def inbound_url(client_slug: str) -> str:
    return f"/api/v1/webhooks/inbound/{client_slug}/"


def signed_post(
    http_client: Any,
    client_slug: str,
    body: bytes,
    *,
    secrets: list[str],
    webhook_id: str = "msg_test_1",
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    signed = signed_headers(secrets=secrets, webhook_id=webhook_id, body=body, timestamp=timestamp)
    if headers:
        signed.update(headers)
    return http_client.post(
        inbound_url(client_slug), data=body, content_type="application/json", headers=signed
    )


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    """Answers POSTs from `post_statuses` in turn (then 200) and GETs from `routes`."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    post_statuses: list[int] = field(default_factory=list)
    routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = field(default_factory=dict)


def serve_bytes(content: bytes, status: int = 200) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return route


def serve_redirect(location: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
