"""Callback and endpoint URLs: refused when they are made if they lead inside (the rules of the
fetches), and a refused address is a permanent failure of the delivery, never retried."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from accounts.models import ApiClient
from accounts.services import ClientError, api_client_create
from integrations import safe_http
from integrations.endpoints import EndpointError, webhook_endpoint_save
from integrations.models import Delivery, WebhookEndpoint
from moderation.events import SUBMISSION_ANALYZED, event_emit

pytestmark = pytest.mark.django_db

# Names the tests resolve themselves (safe_http.host_addresses is the one DNS entry point).
FAKE_DNS = {
    "metadata.sns.test": ["169.254.169.254"],
    "intranet.sns.test": ["10.0.0.8"],
    "split.sns.test": ["93.184.215.14", "192.168.1.20"],  # public and private: refused
    "hooks.sns.test": ["93.184.215.14"],
}

REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.8/hook",
    "http://192.168.1.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[fe80::1]/hook",
    "http://2852039166/hook",  # 169.254.169.254 written as one decimal number
    "http://127.0.0.1:8080/hook",  # loopback, refused unless WEBHOOK_FETCH_ALLOW_LOOPBACK
    "http://localhost/hook",
    "http://metadata.sns.test/hook",
    "http://intranet.sns.test/hook",
    "https://split.sns.test/hook",
    "https://user:secret@hooks.sns.test/hook",
    "https://hooks.sns.test:99999/hook",
    "ftp://hooks.sns.test/hook",
    "https:///hook",
]


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch, settings):
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = False
    real = safe_http.host_addresses

    def resolve(host: str, port: int) -> list[str]:
        if host in FAKE_DNS:
            return FAKE_DNS[host]
        if host.endswith(".test"):
            raise OSError(-2, "Name or service not known")
        return real(host, port)

    monkeypatch.setattr(safe_http, "host_addresses", resolve)


@pytest.mark.parametrize("url", REFUSED)
def test_create_api_client_refuses_a_callback_url_that_leads_inside(url: str) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("create_api_client", "Example SNS", "--callback-url", url, stdout=StringIO())
    message = str(refused.value)
    assert message.startswith("--callback-url: ") and "\n" not in message
    assert not ApiClient.objects.exists()
    with pytest.raises(ClientError) as service_refused:
        api_client_create(name="Example SNS", callback_url=url)
    assert service_refused.value.code in ("invalid_callback_url", "unsafe_callback_url")


@pytest.mark.parametrize("url", REFUSED)
def test_webhook_endpoints_are_refused_by_the_same_rules(sns, url: str) -> None:
    with pytest.raises(EndpointError) as refused:
        webhook_endpoint_save(client=sns.client, url=url)
    assert refused.value.code in ("invalid_url", "unsafe_url") and "\n" not in str(refused.value)
    with pytest.raises(CommandError):
        call_command("webhook_endpoint", sns.client.slug, "--url", url, stdout=StringIO())
    assert not WebhookEndpoint.objects.exists()


def test_public_addresses_and_names_are_accepted(sns) -> None:
    issued = api_client_create(name="Other SNS", callback_url="https://hooks.sns.test/h")
    assert issued.client.callback_url == "https://hooks.sns.test/h"
    endpoint = webhook_endpoint_save(client=sns.client, url="https://93.184.215.14/hook")
    assert endpoint.is_active


def test_loopback_is_accepted_only_with_the_loopback_setting(settings, sns) -> None:
    with pytest.raises(EndpointError):
        webhook_endpoint_save(client=sns.client, url="http://127.0.0.1:8080/hook")
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True
    assert webhook_endpoint_save(client=sns.client, url="http://127.0.0.1:8080/hook").is_active
    with pytest.raises(EndpointError):  # private stays refused even then
        webhook_endpoint_save(client=sns.client, url="http://10.0.0.8/hook")


def test_a_name_that_does_not_resolve_now_is_accepted_with_a_warning(sns) -> None:
    """DNS may not have the name yet, or not from the host running the command; every delivery
    resolves it again and refuses it then if it leads inside, so nothing unsafe is reached."""
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_client", "Example SNS 2", "--callback-url", "https://new.sns.test/h",
        stdout=out, stderr=err,
    )  # fmt: skip
    assert ApiClient.objects.get(slug="example-sns-2").callback_url == "https://new.sns.test/h"
    assert "does not resolve" in err.getvalue()
    assert webhook_endpoint_save(client=sns.client, url="https://new.sns.test/e").is_active


def test_the_command_line_refusal_is_one_line_and_exits_non_zero(run_manage) -> None:
    done = run_manage(
        "create_api_client", "Example SNS", "--callback-url", "http://169.254.169.254/"
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("CommandError: --callback-url: ")
    assert "non-public" in lines[-1]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("admin_url", "field", "value"),
    [
        ("/admin/accounts/apiclient/{client}/change/", "callback_url", "http://10.0.0.8/h"),
        ("/admin/integrations/webhookendpoint/add/", "url", "http://169.254.169.254/h"),
    ],
)
def test_the_admin_refuses_them_too(client, sns, admin_url: str, field: str, value: str) -> None:
    from accounts.models import User

    admin = User.objects.create_superuser("root", "root@example.test", "correct horse")
    client.force_login(admin)
    form = {
        "name": sns.client.name, "is_active": "on", "client": sns.client.pk,
        "event_types": "[]", field: value,
        "tokens-TOTAL_FORMS": "0", "tokens-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = client.post(admin_url.format(client=sns.client.pk), form)
    assert response.status_code == 200  # the form again, with the error
    assert "non-public" in response.content.decode()
    sns.client.refresh_from_db()
    assert sns.client.callback_url == ""
    assert not WebhookEndpoint.objects.exists()


def test_a_refused_address_at_delivery_fails_at_once_without_retries(
    sns, analyses, make_image_bytes, django_capture_on_commit_callbacks
) -> None:
    """The endpoint was public when it was saved; its name now points at the metadata service."""
    from moderation.services import submission_create

    FAKE_DNS["moving.sns.test"] = ["93.184.215.14"]
    try:
        webhook_endpoint_save(client=sns.client, url="https://moving.sns.test/hook")
        FAKE_DNS["moving.sns.test"] = ["169.254.169.254"]
        submission = submission_create(
            content=make_image_bytes(), source="webhook", client=sns.client, external_id="p"
        )
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={})
    finally:
        FAKE_DNS.pop("moving.sns.test")
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 1 and delivery.next_attempt_at is None
    assert "non-public" in delivery.last_error and "not retried" in delivery.last_error
    assert "non-public" in delivery.attempts.get().error
