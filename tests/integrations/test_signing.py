"""Standard Webhooks signatures: the reference vector, tolerance boundaries, rotation."""

import pytest

from integrations.signing import (
    HEADER_SIGNATURE,
    WEBHOOK_TOLERANCE_SECONDS,
    SignatureError,
    sign,
    signed_headers,
    verify,
)
from tests.integrations.webhook_helpers import webhook_fixture

VECTOR = webhook_fixture("signature_vector")
SECRET_A = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
SECRET_B = "whsec_" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="


def test_reference_vector_signs_to_the_published_signature() -> None:
    signature = sign(
        secret=VECTOR["secret"],
        webhook_id=VECTOR["webhook_id"],
        timestamp=VECTOR["timestamp"],
        body=VECTOR["body"].encode(),
    )
    assert signature == VECTOR["signature"]


def test_reference_vector_verifies_at_its_own_time() -> None:
    headers = {
        "webhook-id": VECTOR["webhook_id"],
        "webhook-timestamp": str(VECTOR["timestamp"]),
        "webhook-signature": VECTOR["signature"],
    }
    webhook_id = verify(
        secrets=[VECTOR["secret"]],
        headers=headers,
        body=VECTOR["body"].encode(),
        now=VECTOR["timestamp"],
    )
    assert webhook_id == VECTOR["webhook_id"]


def _headers(timestamp: int, secrets: list[str] = [SECRET_A]) -> dict[str, str]:  # noqa: B006
    return signed_headers(secrets=secrets, webhook_id="msg_1", body=b"{}", timestamp=timestamp)


@pytest.mark.parametrize("offset", [0, 299, -299, WEBHOOK_TOLERANCE_SECONDS, -300])
def test_timestamps_within_tolerance_verify(offset: int) -> None:
    now = 1_700_000_000
    assert verify(secrets=[SECRET_A], headers=_headers(now + offset), body=b"{}", now=now)


@pytest.mark.parametrize("offset", [301, -301, 10_000, -10_000])
def test_timestamps_beyond_tolerance_are_rejected(offset: int) -> None:
    now = 1_700_000_000
    with pytest.raises(SignatureError, match="from our clock"):
        verify(secrets=[SECRET_A], headers=_headers(now + offset), body=b"{}", now=now)


def test_any_of_several_signatures_and_secrets_verifies() -> None:
    now = 1_700_000_000
    headers = _headers(now, secrets=[SECRET_B, SECRET_A])
    assert len(headers[HEADER_SIGNATURE].split(" ")) == 2
    assert verify(secrets=[SECRET_A], headers=headers, body=b"{}", now=now)
    assert verify(secrets=[SECRET_B], headers=headers, body=b"{}", now=now)


def test_wrong_secret_is_rejected() -> None:
    now = 1_700_000_000
    with pytest.raises(SignatureError, match="no valid signature"):
        verify(secrets=[SECRET_B], headers=_headers(now), body=b"{}", now=now)


def test_other_signature_versions_are_ignored() -> None:
    now = 1_700_000_000
    headers = _headers(now)
    headers[HEADER_SIGNATURE] = headers[HEADER_SIGNATURE].replace("v1,", "v1a,")
    with pytest.raises(SignatureError):
        verify(secrets=[SECRET_A], headers=headers, body=b"{}", now=now)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_are_rejected(missing: str) -> None:
    now = 1_700_000_000
    headers = _headers(now)
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        verify(secrets=[SECRET_A], headers=headers, body=b"{}", now=now)


def test_non_numeric_timestamp_is_rejected() -> None:
    headers = _headers(1_700_000_000)
    headers["webhook-timestamp"] = "2023-11-14T22:13:20Z"
    with pytest.raises(SignatureError, match="whole seconds"):
        verify(secrets=[SECRET_A], headers=headers, body=b"{}", now=1_700_000_000)
