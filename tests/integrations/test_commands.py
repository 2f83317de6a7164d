"""webhook_secret_rotate and webhook_endpoint: the commands operators manage clients with."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditLog, WebhookSecret
from integrations.endpoints import webhook_secrets_valid
from integrations.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_rotate_prints_a_new_secret_and_keeps_the_old_one_for_the_overlap(sns) -> None:
    output = json.loads(run("webhook_secret_rotate", sns.client.slug, "--json"))
    assert output["client"] == sns.client.slug
    assert output["webhook_secret"].startswith("whsec_")
    assert webhook_secrets_valid(client=sns.client) == [
        output["webhook_secret"],
        sns.webhook_secret,
    ]
    old = WebhookSecret.objects.get(secret=sns.webhook_secret)
    assert old.expires_at is not None
    assert AuditLog.objects.filter(action="webhook_secret.rotate").count() == 1


def test_rotate_with_zero_hours_expires_the_old_secret_now(sns) -> None:
    output = run("webhook_secret_rotate", sns.client.slug, "--expire-old-in", "0")
    assert "whsec_" in output
    assert sns.webhook_secret not in webhook_secrets_valid(client=sns.client)


def test_rotate_never_extends_an_earlier_expiry(sns) -> None:
    run("webhook_secret_rotate", sns.client.slug, "--expire-old-in", "1")
    first_expiry = WebhookSecret.objects.get(secret=sns.webhook_secret).expires_at
    run("webhook_secret_rotate", sns.client.slug, "--expire-old-in", "48")
    assert WebhookSecret.objects.get(secret=sns.webhook_secret).expires_at == first_expiry
    assert len(webhook_secrets_valid(client=sns.client)) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-client"], "no client"),
        (["example-sns", "--expire-old-in", "-1"], "0 to 30 days"),
        (["example-sns", "--expire-old-in", "10000"], "0 to 30 days"),
    ],
)
def test_rotate_bad_input(sns, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("webhook_secret_rotate", *args)


def test_endpoint_create_update_disable_and_list(sns) -> None:
    url = "https://hooks.example-sns.test/provenant"
    output = run("webhook_endpoint", sns.client.slug, "--url", url, "--events", "decision.made")
    assert "events=decision.made" in output and "active" in output
    run(
        "webhook_endpoint", sns.client.slug, "--url", url,
        "--events", "submission.analyzed,verdict.changed",
    )  # fmt: skip
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["submission.analyzed", "verdict.changed"]
    run("webhook_endpoint", sns.client.slug, "--url", url, "--disable")
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.event_types == ["submission.analyzed", "verdict.changed"]
    run("webhook_endpoint", sns.client.slug, "--url", url, "--events", "all")
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.event_types == []
    assert f"{url}  events=all  active" in run("webhook_endpoint", sns.client.slug)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://x.test/"], r"http\(s\) URL"),
        (["--url", "https://x.test/", "--events", "content.deleted"], "unknown event type"),
        (["--events", "decision.made"], "need --url"),
    ],
)
def test_endpoint_bad_input(sns, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("webhook_endpoint", sns.client.slug, *args)
    assert not WebhookEndpoint.objects.exists()
