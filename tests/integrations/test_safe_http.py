"""SSRF defences of media fetches and outbound deliveries; the worker side of media_url."""

import socket
from typing import TypedDict

import pytest

from integrations import fetching, safe_http
from integrations.fetching import MAX_MEDIA_FETCH_REDIRECTS, inbound_media_fetch
from integrations.models import InboundWebhook
from integrations.safe_http import FetchFailed, UnsafeUrl, address_allowed, safe_request
from moderation.models import Submission
from tests.integrations.webhook_helpers import (
    fixture_body,
    serve_bytes,
    serve_redirect,
    signed_post,
    webhook_fixture,
)


class Limits(TypedDict):
    max_bytes: int
    timeout: float


LIMITS: Limits = {"max_bytes": 1024 * 1024, "timeout": 5.0}


@pytest.fixture
def loopback_allowed(settings):
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True


@pytest.fixture
def loopback_refused(settings):
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = False


def fake_dns(monkeypatch, mapping: dict[str, list[str]]) -> None:
    real = safe_http.host_addresses

    def resolve(host: str, port: int) -> list[str]:
        return mapping[host] if host in mapping else real(host, port)

    monkeypatch.setattr(safe_http, "host_addresses", resolve)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "169.254.169.254",
        "10.0.0.5",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.1.1",
    ],
)
def test_non_public_addresses_are_refused(loopback_refused, address: str) -> None:
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"])
def test_public_addresses_are_allowed(loopback_refused, address: str) -> None:
    assert address_allowed(address)


def test_the_loopback_setting_allows_only_loopback(loopback_allowed) -> None:
    assert address_allowed("127.0.0.1")
    assert not address_allowed("10.0.0.5")
    assert not address_allowed("169.254.169.254")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/a.png",
        "http://[::1]/a.png",
        "http://0x7f000001/a.png",
    ],
)
def test_literal_internal_urls_are_refused_before_connecting(
    loopback_refused, monkeypatch, url: str
) -> None:
    def no_connection(*args, **kwargs):
        raise AssertionError("connected")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises((UnsafeUrl, FetchFailed)):
        safe_request("GET", url, **LIMITS)


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.9.8.7"])
def test_a_hostname_resolving_inside_is_refused(loopback_refused, monkeypatch, address) -> None:
    fake_dns(monkeypatch, {"cdn.example-sns.test": [address]})
    with pytest.raises(UnsafeUrl, match="non-public"):
        safe_request("GET", "https://cdn.example-sns.test/a.png", **LIMITS)


def test_a_hostname_with_one_inside_address_is_refused(loopback_refused, monkeypatch) -> None:
    fake_dns(monkeypatch, {"cdn.example-sns.test": ["93.184.215.14", "10.0.0.1"]})
    with pytest.raises(UnsafeUrl):
        safe_request("GET", "https://cdn.example-sns.test/a.png", **LIMITS)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://a/b", "//a/b"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="scheme"):
        safe_request("GET", url, **LIMITS)


def test_the_connection_goes_to_the_vetted_address(loopback_allowed, monkeypatch, loopback_server):
    """DNS rebinding: a second lookup is never made; the Host header keeps the name."""
    loopback_server.routes["/a.png"] = serve_bytes(b"image")
    port = int(loopback_server.url.rsplit(":", 1)[1])
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    monkeypatch.setattr(safe_http, "host_addresses", lambda host, port: next(answers))
    response = safe_request("GET", f"http://media.example-sns.test:{port}/a.png", **LIMITS)
    assert response.status == 200
    assert response.body == b"image"
    assert loopback_server.requests[-1].headers["Host"] == f"media.example-sns.test:{port}"


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1/x", "http://169.254.169.254/", "http://10.0.0.1/"]
)
def test_a_redirect_to_an_internal_address_is_refused(
    settings, monkeypatch, loopback_server, target: str
) -> None:
    """The first hop is allowed (public by fake DNS); the redirect's target is checked again."""
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = False
    port = int(loopback_server.url.rsplit(":", 1)[1])
    loopback_server.routes["/r"] = serve_redirect(target)
    fake_dns(monkeypatch, {"cdn.example-sns.test": ["127.0.0.1"]})
    monkeypatch.setattr(
        safe_http,
        "address_allowed",
        lambda address: address == "127.0.0.1" and not safe_http_redirected(loopback_server),
    )
    with pytest.raises(UnsafeUrl):
        safe_request("GET", f"http://cdn.example-sns.test:{port}/r", max_redirects=3, **LIMITS)
    assert len(loopback_server.requests) == 1


def safe_http_redirected(server) -> bool:
    """True once the first hop was served: from then on loopback counts as internal again."""
    return len(server.requests) >= 1


def test_redirects_are_followed_up_to_the_limit(loopback_allowed, loopback_server) -> None:
    loopback_server.routes["/img"] = serve_bytes(b"png-bytes")
    loopback_server.routes["/r0"] = serve_redirect("/img")
    for hop in range(1, MAX_MEDIA_FETCH_REDIRECTS + 2):
        loopback_server.routes[f"/r{hop}"] = serve_redirect(f"/r{hop - 1}")
    ok = safe_request(
        "GET", f"{loopback_server.url}/r{MAX_MEDIA_FETCH_REDIRECTS - 1}",
        max_redirects=MAX_MEDIA_FETCH_REDIRECTS, **LIMITS,
    )  # fmt: skip
    assert ok.body == b"png-bytes"
    assert len(ok.redirects) == MAX_MEDIA_FETCH_REDIRECTS
    with pytest.raises(FetchFailed, match="redirects"):
        safe_request(
            "GET", f"{loopback_server.url}/r{MAX_MEDIA_FETCH_REDIRECTS}",
            max_redirects=MAX_MEDIA_FETCH_REDIRECTS, **LIMITS,
        )  # fmt: skip


def test_size_limit_boundary(loopback_allowed, loopback_server) -> None:
    loopback_server.routes["/exact"] = serve_bytes(b"x" * 1000)
    loopback_server.routes["/over"] = serve_bytes(b"x" * 1001)
    exact = safe_request("GET", f"{loopback_server.url}/exact", max_bytes=1000, timeout=5)
    assert len(exact.body) == 1000
    with pytest.raises(FetchFailed, match="1000-byte limit"):
        safe_request("GET", f"{loopback_server.url}/over", max_bytes=1000, timeout=5)


def test_time_limit(loopback_allowed, loopback_server) -> None:
    import time

    def slow(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        # Each byte comes well within any per-read timeout; only the overall limit stops it.
        for _ in range(10):
            try:
                handler.wfile.write(b"x")
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)

    loopback_server.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(FetchFailed):
        safe_request("GET", f"{loopback_server.url}/slow", max_bytes=1000, timeout=0.5)
    assert time.monotonic() - started < 1.5


# The worker side: media_url -> safe download -> submission.


@pytest.fixture
def media_url_webhook(client, sns, analyses, monkeypatch):
    """Post the recorded media_url payload with a given URL; the fetch runs when called."""
    from integrations.tasks import fetch_inbound_media

    monkeypatch.setattr(fetch_inbound_media, "delay", lambda inbound_id: None)

    def post(url: str) -> InboundWebhook:
        body = fixture_body("content_created_media_url", media_url=url)
        response = signed_post(
            client, sns.client.slug, body, secrets=[sns.webhook_secret], webhook_id=f"msg_{url}"
        )
        assert response.status_code == 202, response.content
        return InboundWebhook.objects.get(pk=response.json()["id"])

    return post


@pytest.mark.django_db
def test_media_url_is_downloaded_and_submitted(
    loopback_allowed, loopback_server, media_url_webhook, analyses, make_image_bytes
) -> None:
    loopback_server.routes["/m.png"] = serve_bytes(make_image_bytes())
    inbound = media_url_webhook(f"{loopback_server.url}/m.png")
    assert inbound_media_fetch(inbound_id=inbound.pk).status == "submitted"
    inbound.refresh_from_db()
    submission = Submission.objects.get()
    assert inbound.submission == submission
    data = webhook_fixture("content_created_media_url")["data"]
    assert submission.external_id == data["id"]
    assert submission.text == data["caption"]
    assert submission.metadata["reach"] == data["reach"]
    assert submission.metadata["permalink"] == data["permalink"]
    assert analyses.ids() == [submission.pk]
    # Idempotent: running the task again changes nothing and fetches nothing.
    fetches = len(loopback_server.requests)
    assert inbound_media_fetch(inbound_id=inbound.pk).status == "submitted"
    assert len(loopback_server.requests) == fetches
    assert Submission.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/a.png", "http://169.254.169.254/latest/", "http://10.0.0.8/a.png"]
)
def test_internal_media_urls_fail_without_a_submission(
    loopback_refused, media_url_webhook, url: str
) -> None:
    inbound = media_url_webhook(url)
    outcome = inbound_media_fetch(inbound_id=inbound.pk)
    assert outcome.status == "failed"
    assert outcome.retry_in is None
    inbound.refresh_from_db()
    assert "refused" in inbound.error
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_transient_fetch_errors_are_retried_then_given_up(
    loopback_allowed, loopback_server, media_url_webhook
) -> None:
    loopback_server.routes["/down.png"] = serve_bytes(b"", status=503)
    inbound = media_url_webhook(f"{loopback_server.url}/down.png")
    attempts = fetching.MEDIA_FETCH_MAX_ATTEMPTS
    outcomes = []
    for _ in range(attempts):
        outcomes.append(inbound_media_fetch(inbound_id=inbound.pk))
        # The retry is due later; run it now, as its task would when due.
        InboundWebhook.objects.filter(pk=inbound.pk).update(next_attempt_at=None)
    retried = [outcome.retry_in for outcome in outcomes]
    assert retried == [*fetching.MEDIA_FETCH_RETRY_SECONDS, None]
    assert outcomes[-1].status == "failed"
    assert len(loopback_server.requests) == attempts


@pytest.mark.django_db
def test_media_that_is_not_an_image_fails(loopback_allowed, loopback_server, media_url_webhook):
    loopback_server.routes["/x.png"] = serve_bytes(b"<html>not an image</html>")
    inbound = media_url_webhook(f"{loopback_server.url}/x.png")
    assert inbound_media_fetch(inbound_id=inbound.pk).status == "failed"
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_resume_queues_only_stalled_fetches(
    media_url_webhook, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from integrations.fetching import FETCH_RESUME_GRACE, inbound_fetches_resume
    from integrations.tasks import fetch_inbound_media

    stalled = media_url_webhook("https://cdn.example-sns.test/1.png")
    long_ago = timezone.now() - FETCH_RESUME_GRACE - timedelta(seconds=1)
    InboundWebhook.objects.filter(pk=stalled.pk).update(queued_at=long_ago)
    media_url_webhook("https://cdn.example-sns.test/2.png")  # recent: its task may still run
    queued: list[int] = []
    monkeypatch.setattr(
        fetch_inbound_media, "apply_async", lambda args, countdown: queued.append(args[0])
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_fetches_resume(since=timedelta(hours=1)) == 1
    assert queued == [stalled.pk]
