"""The same outbound path with real commits and rollbacks (no captured on_commit callbacks)."""

import json

import pytest
from django.db import transaction

from integrations.models import Delivery, WebhookEndpoint
from integrations.signing import verify
from moderation.events import SUBMISSION_ANALYZED, event_emit
from moderation.models import Event


@pytest.mark.django_db(transaction=True)
def test_committed_events_are_delivered_and_rolled_back_ones_are_not(
    settings, loopback_server, sns, analyses, make_image_bytes
) -> None:
    from moderation.services import submission_create

    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = (0,)
    WebhookEndpoint.objects.create(client=sns.client, url=f"{loopback_server.url}/in")
    submission = submission_create(
        content=make_image_bytes(), source="webhook", client=sns.client, external_id="p-9"
    )
    with pytest.raises(RuntimeError), transaction.atomic():
        event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={"n": 1})
        raise RuntimeError("rolled back")
    assert loopback_server.requests == []
    assert not Event.objects.exists()

    loopback_server.post_statuses = [502]
    with transaction.atomic():
        event = event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={"n": 2})
    assert len(loopback_server.requests) == 2
    for recorded in loopback_server.requests:
        headers = {name.lower(): value for name, value in recorded.headers.items()}
        assert verify(secrets=[sns.webhook_secret], headers=headers, body=recorded.body)
        assert json.loads(recorded.body)["data"] == {"n": 2}
    delivery = Delivery.objects.get(event=event)
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempt_count == 2
