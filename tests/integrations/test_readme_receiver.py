"""The README's receiver examples verify what we send (they are run, not just read)."""

import re
import shutil
import subprocess
import threading
import types
from http.server import HTTPServer
from pathlib import Path

import pytest

from integrations.models import Delivery, WebhookEndpoint
from integrations.signing import sign, signed_headers
from moderation.events import SUBMISSION_ANALYZED, event_emit

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="


def readme_block(language: str) -> str:
    section = README.read_text().split("### Receiving our events", 1)[1]
    block = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert block is not None, language
    return block.group(1)


@pytest.fixture
def receiver_module(monkeypatch) -> types.ModuleType:
    monkeypatch.setenv("WEBHOOK_SECRETS", f"whsec_{'QkJC' * 10}QkI= {SECRET}")
    module = types.ModuleType("readme_receiver")
    exec(compile(readme_block("python"), "README.md", "exec"), module.__dict__)  # noqa: S102
    return module


def test_python_receiver_accepts_our_signature_and_rejects_a_changed_body(receiver_module):
    body = b'{"type":"submission.analyzed","data":{}}'
    headers = signed_headers(secrets=[SECRET], webhook_id="evt_7", body=body)
    assert receiver_module.verify(headers, body) == "evt_7"
    with pytest.raises(ValueError, match="no valid signature"):
        receiver_module.verify(headers, body + b" ")


@pytest.mark.django_db
def test_python_receiver_gets_a_real_delivery(
    receiver_module, settings, sns, analyses, make_image_bytes, django_capture_on_commit_callbacks
) -> None:
    from accounts.models import WebhookSecret
    from moderation.services import submission_create

    WebhookSecret.objects.filter(client=sns.client).update(secret=SECRET)
    settings.WEBHOOK_FETCH_ALLOW_LOOPBACK = True
    server = HTTPServer(("127.0.0.1", 0), receiver_module.Receiver)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        WebhookEndpoint.objects.create(
            client=sns.client, url=f"http://127.0.0.1:{server.server_address[1]}/"
        )
        submission = submission_create(
            content=make_image_bytes(), source="webhook", client=sns.client, external_id="p"
        )
        with django_capture_on_commit_callbacks(execute=True):
            event_emit(type=SUBMISSION_ANALYZED, submission=submission, data={"submission_id": 1})
    finally:
        server.shutdown()
        server.server_close()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.last_response_status == 204
    assert receiver_module.seen_ids == {delivery.webhook_id}


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_openssl_recipe_computes_our_signature() -> None:
    script = readme_block("sh")
    script = script.split("curl ", 1)[0] + 'echo "$ID $TS v1,$SIG"\n'
    script = script.replace("SECRET=whsec_...", f"SECRET={SECRET}", 1)
    output = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    webhook_id, timestamp, signature = output
    found = re.search(r"BODY='(.*?)'", script)
    assert found is not None
    body = found.group(1).encode()
    assert signature == sign(
        secret=SECRET, webhook_id=webhook_id, timestamp=int(timestamp), body=body
    )
