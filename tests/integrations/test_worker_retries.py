"""Retries through a real worker on Redis with a tiny visibility timeout: one message per attempt.

The worker's visibility timeout is VISIBILITY_TIMEOUT_SECONDS and the test runs kombu's
redelivery of unacknowledged messages every half second (a worker does it about every 100 s).
A retry queued with a countdown past that timeout was handed out again and again while it
waited, and every copy ran at its ETA; held in the database and queued by beat when due, each
attempt is one message. The test plays beat by calling its job every half second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import pytest
import redis
from django.db import connection, transaction

from config.celery import app
from integrations.models import Delivery, InboundWebhook, WebhookEndpoint
from integrations.tasks import resume_deliveries
from moderation.events import SUBMISSION_ANALYZED, event_emit
from tests.integrations.webhook_helpers import fixture_body, signed_post
from tests.worker_process import Worker, database_url_of, on_broker, restore_unacknowledged

BROKER_URL = "redis://127.0.0.1:6379/12"
VISIBILITY_TIMEOUT_SECONDS = 6  # the default first outbound wait (5 s +-20 %) is past half of it
TICK_SECONDS = 0.5
TIMEOUT_SECONDS = 120

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory, project_env, venv_bin):
    redis.Redis.from_url(BROKER_URL).flushdb()
    with django_db_blocker.unblock():
        database_url = database_url_of(connection.settings_dict)
    data_dir = tmp_path_factory.mktemp("retry-worker")
    env = project_env(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=BROKER_URL,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT_SECONDS),
        WEBHOOK_FETCH_ALLOW_LOOPBACK="1",
        DATA_DIR=str(data_dir),
        DEBUG="0",
    )
    # Only the webhook queues: an analysis holding the solo worker would delay every message.
    args = ["--pool=solo", "-Q", "ingest,deliver", "-n", "retry-worker@%h"]
    process = Worker(env, args, data_dir / "worker.log")
    process.start(venv_bin("celery"))
    yield process
    process.stop()


@pytest.fixture
def beat_and_redelivery(settings):
    """Returns wait(done): tick beat's job and kombu's redelivery until done() or the timeout."""
    settings.CELERY_BROKER_URL = BROKER_URL
    settings.CELERY_VISIBILITY_TIMEOUT = VISIBILITY_TIMEOUT_SECONDS
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True

    def wait(done: Callable[[], bool], worker: Worker) -> None:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not done():
            assert time.monotonic() < deadline, worker.log()[-4000:]
            restore_unacknowledged(BROKER_URL, VISIBILITY_TIMEOUT_SECONDS)
            resume_deliveries()  # the body of the beat task, sending to the worker's broker
            time.sleep(TICK_SECONDS)

    return wait


def _fails_then_serves(content: bytes, failures: int) -> tuple[Callable, list[float]]:
    hits: list[float] = []
    lock = threading.Lock()

    def route(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            hits.append(time.monotonic())
            failing = len(hits) <= failures
        body = b"" if failing else content
        handler.send_response(503 if failing else 200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route, hits


@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True)
def test_a_media_fetch_retry_past_the_visibility_timeout_runs_once(
    worker, beat_and_redelivery, client, sns, loopback_server, make_image_bytes
) -> None:
    route, hits = _fails_then_serves(make_image_bytes(seed=3), failures=1)
    loopback_server.routes["/m.png"] = route
    body = fixture_body("content_created_media_url", media_url=f"{loopback_server.url}/m.png")
    offset = worker.log_size()
    with on_broker(BROKER_URL):
        response = signed_post(client, sns.client.slug, body, secrets=[sns.webhook_secret])
        assert response.status_code == 202, response.content
        inbound_id = response.json()["id"]

        def submitted() -> bool:
            return InboundWebhook.objects.get(pk=inbound_id).status == "submitted"

        beat_and_redelivery(submitted, worker)
        time.sleep(VISIBILITY_TIMEOUT_SECONDS + 1)  # a late copy would show up now
        beat_and_redelivery(lambda: True, worker)
    inbound = InboundWebhook.objects.get(pk=inbound_id)
    assert inbound.fetch_attempts == 2 and len(hits) == 2
    assert hits[1] - hits[0] >= 30 - 1  # the first retry waited its 30 s
    runs = worker.received("integrations.fetch_inbound_media", offset)
    assert runs == 2, f"{runs} task messages for 2 attempts\n{worker.log(offset)[-3000:]}"


@pytest.mark.timeout(300)
@pytest.mark.django_db(transaction=True)
def test_delivery_retries_past_the_visibility_timeout_run_once_per_attempt(
    worker, beat_and_redelivery, sns, loopback_server, make_image_bytes
) -> None:
    from moderation.services import submission_create

    WebhookEndpoint.objects.create(client=sns.client, url=f"{loopback_server.url}/hooks")
    loopback_server.post_statuses = [500, 500]  # then 200: retried after ~5 s, then ~30 s
    offset = worker.log_size()
    with on_broker(BROKER_URL):
        submission = submission_create(
            content=make_image_bytes(seed=4), source="api", client=sns.client
        )  # its analysis waits in the `analyze` queue, which this worker does not take
        with transaction.atomic():
            event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={"n": 1})

        def delivered() -> bool:
            found = Delivery.objects.filter(event__submission=submission).first()
            return found is not None and found.status == Delivery.Status.DELIVERED

        beat_and_redelivery(delivered, worker)
        time.sleep(VISIBILITY_TIMEOUT_SECONDS + 1)
        beat_and_redelivery(lambda: True, worker)
    delivery = Delivery.objects.get(event__submission=submission)
    assert delivery.attempt_count == 3 and len(loopback_server.requests) == 3
    runs = worker.received("integrations.deliver_webhook", offset)
    assert runs == 3, f"{runs} task messages for 3 attempts\n{worker.log(offset)[-3000:]}"
    assert app.conf.task_always_eager is True  # back to in-process for the other tests
