"""Committed-transaction tests: concurrent duplicates, and a fast 2xx while analysis is queued."""

import json
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from django.db import connection
from django.test import Client

from config.celery import app
from integrations.models import InboundWebhook
from moderation.models import Submission
from tests.integrations.webhook_helpers import fixture_body, signed_post
from tests.worker_process import forget_producer_pools

BROKER_URL = "redis://127.0.0.1:6379/13"
CONCURRENT_DUPLICATES = 6
FAST_RESPONSE_SECONDS = 0.2
SLOW_ANALYSIS_SECONDS = 3.0


def post_concurrently(slug: str, body: bytes, secret: str, webhook_id: str) -> list[int]:
    barrier = threading.Barrier(CONCURRENT_DUPLICATES)
    statuses: list[int] = []

    def send() -> None:
        try:
            http_client = Client()
            barrier.wait(timeout=10)
            response = signed_post(http_client, slug, body, secrets=[secret], webhook_id=webhook_id)
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(CONCURRENT_DUPLICATES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_submission(sns, analyses) -> None:
    body = fixture_body("content_created_base64")
    statuses = post_concurrently(sns.client.slug, body, sns.webhook_secret, "msg_concurrent_1")
    assert len(statuses) == CONCURRENT_DUPLICATES
    assert all(200 <= status < 300 for status in statuses), statuses
    assert sorted(statuses).count(202) == 1
    assert Submission.objects.count() == 1
    assert InboundWebhook.objects.count() == 1
    assert analyses.ids() == [Submission.objects.get().pk]


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_of_a_media_url_queue_one_fetch(sns, monkeypatch) -> None:
    from integrations.tasks import fetch_inbound_media

    queued: list[int] = []
    monkeypatch.setattr(fetch_inbound_media, "delay", queued.append)
    body = fixture_body("content_created_media_url")
    statuses = post_concurrently(sns.client.slug, body, sns.webhook_secret, "msg_concurrent_2")
    assert all(200 <= status < 300 for status in statuses), statuses
    assert InboundWebhook.objects.count() == 1
    assert queued == [InboundWebhook.objects.get().pk]


@pytest.fixture
def broker(settings) -> Iterator[redis.Redis]:
    """Send tasks to Redis instead of running them in-process; no worker consumes them."""
    queue = redis.Redis.from_url(BROKER_URL)
    queue.flushdb()
    settings.CELERY_BROKER_URL = BROKER_URL
    app.conf.update(broker_url=BROKER_URL, task_always_eager=False)
    forget_producer_pools()
    yield queue
    app.conf.update(broker_url=None, task_always_eager=True)
    forget_producer_pools()
    queue.flushdb()


def queued_tasks(queue: redis.Redis, name: str) -> list[tuple[str, str]]:
    messages = [json.loads(raw) for raw in queue.lrange(name, 0, -1)]
    return [(message["headers"]["task"], message["headers"]["argsrepr"]) for message in messages]


@pytest.mark.django_db(transaction=True)
def test_the_2xx_does_not_wait_for_a_slow_analysis(sns, broker, monkeypatch) -> None:
    import moderation.analysis

    def slow_analysis(**kwargs):
        time.sleep(SLOW_ANALYSIS_SECONDS)
        raise AssertionError("analysis ran inside the request")

    monkeypatch.setattr(moderation.analysis, "submission_analyze", slow_analysis)
    http_client = Client()
    durations = []
    for number in range(6):  # the first request also warms up imports and connections
        body = fixture_body("content_created_base64", id=f"post-fast-{number}")
        started = time.perf_counter()
        response = signed_post(
            http_client, sns.client.slug, body, secrets=[sns.webhook_secret],
            webhook_id=f"msg_fast_{number}",
        )  # fmt: skip
        durations.append(time.perf_counter() - started)
        assert response.status_code == 202
    # None waited for the analysis; the best of five (robust to other jobs on this 2-core
    # machine) is within the target.
    assert max(durations) < SLOW_ANALYSIS_SECONDS, durations
    assert min(durations[1:]) < FAST_RESPONSE_SECONDS, durations
    submission_ids = sorted(Submission.objects.values_list("pk", flat=True))
    queued = queued_tasks(broker, "analyze")
    assert sorted(queued) == sorted(
        ("moderation.analyze_submission", f"({pk},)") for pk in submission_ids
    )
