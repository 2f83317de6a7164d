"""`updated_at` moves on every change, including the QuerySet.update() status changes that
bypass auto_now: the claim, the stored report, a recorded failure, retry and re-analysis, and the
webhook rows whose repairs select on it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from integrations.models import Delivery, InboundWebhook, WebhookEndpoint
from moderation.analysis import submission_analyze
from moderation.events import SUBMISSION_ANALYZED, event_emit
from moderation.models import ReviewItem, Submission
from moderation.services import submission_create, submission_reanalyze, submission_retry

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(days=3)


@pytest.fixture
def submission(api_client_credentials, make_image_bytes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return submission_create(
            content=make_image_bytes(seed=5), source="api", client=api_client_credentials.client
        )


Timestamped = (
    type[Submission]
    | type[ReviewItem]
    | type[InboundWebhook]
    | type[Delivery]
    | type[WebhookEndpoint]
)


def age(model: Timestamped, pk: int) -> datetime:
    """Move the row's updated_at far back (an explicit value is kept) and return it."""
    past = timezone.now() - LONG_AGO
    model.objects.filter(pk=pk).update(updated_at=past)
    return past


def moved(model: Timestamped, pk: int, since: datetime) -> bool:
    return model.objects.get(pk=pk).updated_at > since


def test_every_status_change_of_a_submission_moves_updated_at(engines, submission) -> None:
    past = age(Submission, submission.pk)
    assert Submission.objects.get(pk=submission.pk).updated_at == past
    Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.ANALYZING)
    assert moved(Submission, submission.pk, past)  # the claim's compare-and-set

    past = age(Submission, submission.pk)
    assert submission_analyze(submission_id=submission.pk) is not None
    assert moved(Submission, submission.pk, past)  # analyzing -> analyzed
    item = ReviewItem.objects.get(submission=submission)

    past = age(Submission, submission.pk)
    item_past = age(ReviewItem, item.pk)
    submission_reanalyze(submission=submission)
    assert moved(Submission, submission.pk, past)  # analyzed -> received
    past = age(Submission, submission.pk)
    assert submission_analyze(submission_id=submission.pk) is not None
    assert moved(Submission, submission.pk, past)
    assert moved(ReviewItem, item.pk, item_past)  # re-routed with the new priority

    engines.fail_with = RuntimeError("index unreadable")
    submission_reanalyze(submission=submission)
    past = age(Submission, submission.pk)
    submission_analyze(submission_id=submission.pk)
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.FAILED
    assert moved(Submission, submission.pk, past)  # analyzing -> failed

    past = age(Submission, submission.pk)
    submission_retry(submission=submission)
    assert moved(Submission, submission.pk, past)  # failed -> received


def test_webhook_rows_move_updated_at_on_update(api_client_credentials, submission) -> None:
    client = api_client_credentials.client
    inbound = InboundWebhook.objects.create(
        client=client, webhook_id="w1", type="content.created", external_id="1",
        media_url="https://cdn.example-sns.test/1.png", payload={}, status="fetching",
    )  # fmt: skip
    past = age(InboundWebhook, inbound.pk)
    InboundWebhook.objects.filter(pk=inbound.pk).update(error="HTTP 503")
    assert moved(InboundWebhook, inbound.pk, past)

    endpoint = WebhookEndpoint.objects.create(client=client, url="https://sns.example/h")
    event = event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})
    delivery = Delivery.objects.create(
        endpoint=endpoint, event=event, event_type=event.type, webhook_id="evt_1"
    )
    past = age(Delivery, delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(last_error="HTTP 500")
    assert moved(Delivery, delivery.pk, past)
    past = age(WebhookEndpoint, endpoint.pk)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    assert moved(WebhookEndpoint, endpoint.pk, past)
