"""Outbound events to a real HTTP receiver on loopback: signed, retried, disabled on 410."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse

from integrations.models import Delivery, WebhookEndpoint
from integrations.outbound import RETRY_JITTER, RETRY_SCHEDULE_SECONDS, retry_delay
from integrations.signing import signed_headers, verify
from integrations.tasks import deliver_webhook
from moderation.events import DECISION_MADE, SUBMISSION_ANALYZED, event_emit
from moderation.models import Event, Submission

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings, loopback_server, sns):
    """The client's endpoint is the loopback server; retries are immediate."""
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = (0, 0, 0)
    WebhookEndpoint.objects.create(client=sns.client, url=f"{loopback_server.url}/hooks")
    return loopback_server


@pytest.fixture
def submission(sns, analyses, make_image_bytes) -> Submission:
    from moderation.services import submission_create

    return submission_create(
        content=make_image_bytes(), source="webhook", client=sns.client, external_id="post-1"
    )


def payload_of(submission: Submission) -> dict:
    return {
        "submission_id": submission.pk,
        "external_id": submission.external_id,
        "report_version": 1,
        "verdict": {"label": "no_evidence", "manipulation_probability": 0.1, "reasons": []},
        "report_url": f"/api/v1/submissions/{submission.pk}/report/",
    }


def emit(capture, submission: Submission, event_type: str = SUBMISSION_ANALYZED) -> Event:
    with capture(execute=True), transaction.atomic():
        return event_emit(type=event_type, submission=submission, data=payload_of(submission))


def verified(recorded, secret: str) -> str:
    headers = {name.lower(): value for name, value in recorded.headers.items()}
    return verify(secrets=[secret], headers=headers, body=recorded.body)


def test_events_arrive_signed_and_verify(
    receiver, sns, submission, django_capture_on_commit_callbacks
) -> None:
    event = emit(django_capture_on_commit_callbacks, submission)
    assert len(receiver.requests) == 1
    recorded = receiver.requests[0]
    assert recorded.path == "/hooks"
    assert verified(recorded, sns.webhook_secret) == f"evt_{event.pk}"
    document = json.loads(recorded.body)
    assert document["type"] == SUBMISSION_ANALYZED
    assert document["data"] == payload_of(submission)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DELIVERED
    attempt = delivery.attempts.get()
    assert (attempt.number, attempt.response_status, attempt.succeeded) == (1, 200, True)
    assert attempt.latency_ms > 0


def test_fails_twice_then_succeeds(
    receiver, sns, submission, django_capture_on_commit_callbacks
) -> None:
    receiver.post_statuses = [500, 503]
    emit(django_capture_on_commit_callbacks, submission)
    assert len(receiver.requests) == 3
    webhook_ids = {verified(recorded, sns.webhook_secret) for recorded in receiver.requests}
    assert len(webhook_ids) == 1  # the same message each time
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempt_count == 3
    statuses = list(delivery.attempts.values_list("response_status", flat=True))
    assert statuses == [500, 503, 200]


def test_gives_up_after_the_schedule(
    receiver, settings, submission, django_capture_on_commit_callbacks
) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = (0, 0)
    receiver.post_statuses = [500] * 10
    emit(django_capture_on_commit_callbacks, submission)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 3 == len(receiver.requests)
    assert delivery.last_response_status == 500


def test_410_disables_the_endpoint(
    receiver, sns, submission, django_capture_on_commit_callbacks
) -> None:
    receiver.post_statuses = [410]
    emit(django_capture_on_commit_callbacks, submission)
    endpoint = WebhookEndpoint.objects.get()
    assert not endpoint.is_active
    assert "410" in endpoint.disabled_reason
    assert Delivery.objects.get().status == Delivery.Status.FAILED
    emit(django_capture_on_commit_callbacks, submission, DECISION_MADE)
    assert len(receiver.requests) == 1
    assert Delivery.objects.count() == 1


def test_nothing_is_sent_for_a_rolled_back_transaction(
    receiver, submission, django_capture_on_commit_callbacks
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})
        raise RuntimeError("the analysis failed after emitting")
    assert receiver.requests == []
    assert not Event.objects.exists()
    assert not Delivery.objects.exists()


def test_a_redelivered_task_never_sends_a_delivered_event_again(
    receiver, submission, django_capture_on_commit_callbacks
) -> None:
    emit(django_capture_on_commit_callbacks, submission)
    delivery = Delivery.objects.get()
    assert deliver_webhook.apply(args=(delivery.pk,)).get() == "skipped"
    assert len(receiver.requests) == 1
    assert delivery.attempts.count() == 1


def test_a_leased_delivery_is_not_sent_twice(receiver, submission) -> None:
    from django.utils import timezone

    event = event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})
    endpoint = WebhookEndpoint.objects.get()
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event=event,
        event_type=event.type,
        webhook_id="evt_x",
        locked_until=timezone.now() + timedelta(seconds=60),
    )
    assert deliver_webhook.apply(args=(delivery.pk,)).get() == "skipped"
    assert receiver.requests == []


def test_only_subscribed_event_types_are_sent(
    receiver, submission, django_capture_on_commit_callbacks
) -> None:
    WebhookEndpoint.objects.update(event_types=[DECISION_MADE])
    emit(django_capture_on_commit_callbacks, submission, SUBMISSION_ANALYZED)
    assert receiver.requests == []
    emit(django_capture_on_commit_callbacks, submission, DECISION_MADE)
    assert len(receiver.requests) == 1


def test_the_callback_url_is_the_default_endpoint(
    settings, loopback_server, sns, submission, django_capture_on_commit_callbacks
) -> None:
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True
    sns.client.callback_url = f"{loopback_server.url}/callback"
    sns.client.save()
    emit(django_capture_on_commit_callbacks, submission)
    assert [recorded.path for recorded in loopback_server.requests] == ["/callback"]


def test_outbound_refuses_loopback_unless_allowed(
    receiver, settings, submission, django_capture_on_commit_callbacks
) -> None:
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = False
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = ()
    emit(django_capture_on_commit_callbacks, submission)
    assert receiver.requests == []
    attempt = Delivery.objects.get().attempts.get()
    assert "non-public" in attempt.error
    assert attempt.response_status is None


def test_events_without_a_client_are_not_delivered(
    receiver, submission, django_capture_on_commit_callbacks
) -> None:
    Submission.objects.filter(pk=submission.pk).update(client=None)
    submission.refresh_from_db()
    emit(django_capture_on_commit_callbacks, submission)
    assert receiver.requests == []


def test_retry_schedule_spans_about_a_day_with_bounded_jitter() -> None:
    total_hours = sum(RETRY_SCHEDULE_SECONDS) / 3600
    assert 20 <= total_hours <= 30
    assert list(RETRY_SCHEDULE_SECONDS) == sorted(RETRY_SCHEDULE_SECONDS)
    for failed, base in enumerate(RETRY_SCHEDULE_SECONDS, start=1):
        delay = retry_delay(failed_attempts=failed)
        assert delay is not None
        assert base * (1 - RETRY_JITTER) <= delay <= base * (1 + RETRY_JITTER)
    assert retry_delay(failed_attempts=len(RETRY_SCHEDULE_SECONDS) + 1) is None


# The deliveries API: each client sees and redelivers its own deliveries only.


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_clients_list_their_own_deliveries_only(
    client, receiver, sns, submission, django_capture_on_commit_callbacks
) -> None:
    from accounts.services import api_client_create

    emit(django_capture_on_commit_callbacks, submission)
    response = client.get(reverse("delivery-list"), headers=bearer(sns.token))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["status"] for item in results] == ["delivered"]
    assert results[0]["attempts"][0]["response_status"] == 200
    other = api_client_create(name="Other SNS")
    response = client.get(reverse("delivery-list"), headers=bearer(other.token))
    assert response.json()["results"] == []
    delivery = Delivery.objects.get()
    detail = reverse("delivery-detail", args=[delivery.pk])
    assert client.get(detail, headers=bearer(other.token)).status_code == 404
    redeliver = reverse("delivery-redeliver", args=[delivery.pk])
    assert client.post(redeliver, headers=bearer(other.token)).status_code == 404


def test_people_without_a_client_get_403(client, personas) -> None:
    client.force_login(personas["admin"])
    assert client.get(reverse("delivery-list")).status_code == 403
    client.logout()
    assert client.get(reverse("delivery-list")).status_code in (401, 403)


def test_redelivery_through_the_api_sends_again(
    client, receiver, sns, submission, django_capture_on_commit_callbacks
) -> None:
    emit(django_capture_on_commit_callbacks, submission)
    delivery = Delivery.objects.get()
    url = reverse("delivery-redeliver", args=[delivery.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, headers=bearer(sns.token))
    assert response.status_code == 202, response.content
    assert len(receiver.requests) == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.redeliveries) == ("delivered", 2, 1)


def test_redelivering_a_pending_delivery_is_409(client, receiver, sns, submission) -> None:
    event = event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})
    delivery = Delivery.objects.create(
        endpoint=WebhookEndpoint.objects.get(), event=event, event_type=event.type, webhook_id="e"
    )
    response = client.post(
        reverse("delivery-redeliver", args=[delivery.pk]), headers=bearer(sns.token)
    )
    assert response.status_code == 409
    assert "pending" in response.json()["detail"]
    assert response.json()["code"] == "delivery_pending"


def test_admin_redeliver_action(
    client, receiver, personas, submission, django_capture_on_commit_callbacks
) -> None:
    from accounts.models import User

    emit(django_capture_on_commit_callbacks, submission)
    delivery = Delivery.objects.get()
    superuser = User.objects.create_superuser("root", password="correct horse battery")
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:integrations_delivery_changelist"),
            {"action": "redeliver", "_selected_action": [delivery.pk]},
        )
    assert response.status_code == 302
    assert len(receiver.requests) == 2


def test_signed_headers_match_what_receivers_verify() -> None:
    secret = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    headers = signed_headers(secrets=[secret], webhook_id="evt_1", body=b"{}")
    assert verify(secrets=[secret], headers=headers, body=b"{}") == "evt_1"


def test_resume_delivers_events_whose_listener_never_ran(
    receiver, submission, django_capture_on_commit_callbacks
) -> None:
    from io import StringIO

    from django.core.management import call_command

    event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})  # never committed
    assert not Delivery.objects.exists()
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("webhooks_resume", stdout=out)
    assert "1 delivery(ies) created" in out.getvalue()
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
    with django_capture_on_commit_callbacks(execute=True):
        call_command("webhooks_resume", stdout=StringIO())
    assert len(receiver.requests) == 1


def test_resume_requeues_overdue_pending_deliveries_only(
    receiver, submission, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from integrations.outbound import RESUME_GRACE, deliveries_resume

    event = event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})
    endpoint = WebhookEndpoint.objects.get()
    due_soon = Delivery.objects.create(
        endpoint=endpoint, event=event, event_type=event.type, webhook_id="a",
        next_attempt_at=timezone.now() + timedelta(minutes=1),
    )  # fmt: skip
    other_event = event_emit(type=DECISION_MADE, submission=submission, data={})
    long_ago = timezone.now() - RESUME_GRACE - timedelta(seconds=1)
    overdue = Delivery.objects.create(
        endpoint=endpoint, event=other_event, event_type=other_event.type, webhook_id="b",
        next_attempt_at=long_ago, queued_at=long_ago,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        resumed = deliveries_resume(since=timedelta(hours=1))
    assert resumed.deliveries_requeued == 1
    overdue.refresh_from_db()
    due_soon.refresh_from_db()
    assert overdue.status == Delivery.Status.DELIVERED
    assert due_soon.status == Delivery.Status.PENDING
    assert len(receiver.requests) == 1


def test_during_a_rotation_events_verify_with_either_secret(
    receiver, sns, submission, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from integrations.endpoints import webhook_secret_rotate

    new = webhook_secret_rotate(client=sns.client, expire_old_in=timedelta(hours=1))
    emit(django_capture_on_commit_callbacks, submission)
    recorded = receiver.requests[0]
    assert len(recorded.headers["webhook-signature"].split(" ")) == 2
    assert verified(recorded, new) == verified(recorded, sns.webhook_secret)
    webhook_secret_rotate(client=sns.client, expire_old_in=timedelta(0))
    emit(django_capture_on_commit_callbacks, submission, DECISION_MADE)
    latest = receiver.requests[1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(ValueError, match="no valid signature"):
        verified(latest, sns.webhook_secret)


def test_beat_schedules_the_same_repair(
    receiver, submission, django_capture_on_commit_callbacks, settings
) -> None:
    from config.celery import app
    from integrations.tasks import resume_deliveries

    entry = settings.CELERY_BEAT_SCHEDULE["webhooks-resume"]
    assert entry["task"] == resume_deliveries.name and entry["task"] in app.tasks
    assert entry["schedule"] == settings.WEBHOOKS_RESUME_EVERY_SECONDS
    event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})  # never committed
    with django_capture_on_commit_callbacks(execute=True):
        summary = resume_deliveries.delay().get()
    assert summary.startswith("1 created, 0 requeued, 0 held retries queued")
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
    assert len(receiver.requests) == 1
