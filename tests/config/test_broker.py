"""The Redis broker transport builds one Redis client per channel for publishing, not one per
message, and still delivers every message."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis
from kombu import Connection, Queue

from config import broker

# Any database works: the queue name is unique and its keys are deleted afterwards.
BROKER_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def queue() -> Iterator[Queue]:
    queue = Queue(f"test-broker-{secrets.token_hex(6)}")
    yield queue
    client = redis.Redis.from_url(BROKER_URL)
    client.delete(*(client.keys(f"*{queue.name}*") or [queue.name]))


def test_publishes_share_one_client_and_all_arrive(monkeypatch, queue: Queue) -> None:
    built: list[bool] = []
    create = broker.Channel._create_client  # type: ignore[attr-defined]  # kombu's stubs omit it

    def counting(self, asynchronous: bool = False):
        built.append(asynchronous)
        return create(self, asynchronous=asynchronous)

    monkeypatch.setattr(broker.Channel, "_create_client", counting)
    with Connection(BROKER_URL, transport="config.broker:Transport") as connection:
        producer = connection.Producer()
        for number in range(5):
            producer.publish({"n": number}, routing_key=queue.name, declare=[queue])
        assert built.count(False) == 1  # kombu's own channel builds one per publish
        # kombu's SimpleQueue takes a Queue; its stubs say str
        with connection.SimpleQueue(queue) as consumer:  # type: ignore[arg-type]
            received = []
            for _ in range(5):
                message = consumer.get(timeout=5)
                received.append(message.payload["n"])
                message.ack()
    assert sorted(received) == list(range(5))


def test_settings_select_it_for_redis_urls_only(run_manage) -> None:
    code = (
        "from django.conf import settings as s; print(getattr(s, 'CELERY_BROKER_TRANSPORT', None))"
    )
    for url, expected in [
        ("redis://127.0.0.1:6379/15", "config.broker:Transport"),
        ("amqp://guest@127.0.0.1//", "None"),
    ]:
        result = run_manage("shell", "-c", code, CELERY_BROKER_URL=url)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == expected
