"""API clients: the create_api_client contract, hashed tokens and bearer authentication."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiClient, ApiToken, AuditLog, WebhookSecret
from accounts.services import token_digest

pytestmark = pytest.mark.django_db


def create_client_json(*args: str) -> dict[str, str]:
    out = StringIO()
    call_command("create_api_client", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_command_prints_the_contract_and_stores_only_the_token_digest() -> None:
    credentials = create_client_json("Example SNS", "--callback-url", "https://sns.example/hook")
    assert set(credentials) == {"client", "token", "webhook_secret"}
    assert credentials["client"] == "example-sns"
    assert credentials["webhook_secret"].startswith("whsec_")
    client = ApiClient.objects.get(slug="example-sns")
    assert client.callback_url == "https://sns.example/hook"
    stored = ApiToken.objects.get(client=client)
    assert stored.digest == token_digest(credentials["token"])
    assert credentials["token"] not in {stored.digest, stored.prefix}
    assert WebhookSecret.objects.get(client=client).secret == credentials["webhook_secret"]
    assert AuditLog.objects.filter(action="api_client.create", target_id=str(client.pk)).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "name must be"),
        (["!!!"], "no letters or digits"),
        (["Example", "--callback-url", "ftp://x"], "--callback-url"),
    ],
)
def test_bad_arguments_give_a_clear_error_and_store_nothing(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        create_client_json(*args)
    assert not ApiClient.objects.exists()


def test_duplicate_name_is_refused_and_keeps_the_first_client() -> None:
    first = create_client_json("Example SNS")
    with pytest.raises(CommandError, match="already exists"):
        create_client_json("example sns")
    assert ApiToken.objects.get().digest == token_digest(first["token"])


def test_token_authenticates_as_the_client() -> None:
    credentials = create_client_json("Example SNS")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {credentials['token']}")
    response = api.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "username": "client:example-sns",
        "roles": ["api_client"],
        "client": "example-sns",
    }
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer pvn_wrong", "Bearer", "Bearer a b", "Token pvn_wrong", "Bearer \u00e9"],
)
def test_bad_tokens_are_refused(header: str) -> None:
    create_client_json("Example SNS")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    assert api.get("/api/v1/me/").status_code == 401


def test_revoked_token_and_inactive_client_are_refused() -> None:
    credentials = create_client_json("Example SNS")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {credentials['token']}")
    ApiToken.objects.update(revoked_at=timezone.now())
    assert api.get("/api/v1/me/").status_code == 401
    ApiToken.objects.update(revoked_at=None)
    ApiClient.objects.update(is_active=False)
    assert api.get("/api/v1/me/").status_code == 401


def test_anonymous_api_calls_are_refused() -> None:
    assert APIClient().get("/api/v1/me/").status_code in (401, 403)


def test_callback_url_checks_fail_closed() -> None:
    from accounts.services import ClientError, api_client_create, callback_url_checked
    from accounts.signals import callback_url_checking
    from integrations.endpoints import callback_url_receiver

    def broken(sender: object, **kwargs: object) -> list[str]:
        raise RuntimeError("check bug")

    callback_url_checking.connect(broken)
    try:
        with pytest.raises(RuntimeError, match="check bug"):
            api_client_create(name="Unchecked", callback_url="https://sns.example/hook")
    finally:
        callback_url_checking.disconnect(broken)
    assert not ApiClient.objects.filter(name="Unchecked").exists()
    assert callback_url_checking.disconnect(dispatch_uid="integrations.endpoints")
    try:
        with pytest.raises(ClientError, match="no callback URL check is installed"):
            callback_url_checked("https://sns.example/hook")
    finally:
        callback_url_checking.connect(callback_url_receiver, dispatch_uid="integrations.endpoints")
    assert callback_url_checked("") == ("", [])
