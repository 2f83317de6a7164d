"""config.errors and config.drf: every service refusal answers with its status, a stable `code`
and its message, through one mapping (the DRF handler and the inbound webhook view)."""

from __future__ import annotations

import pytest

from config.drf import api_exception_handler
from config.errors import ServiceError, refusal_body
from factcheck.cases.services import CaseConflict, CaseError, CasePermissionDenied
from integrations.inbound import PayloadInvalid
from integrations.outbound import DeliveryError
from integrations.signing import SignatureError
from mediastore.images import ImageRejected
from moderation.services import SubmissionError


def test_a_service_error_defaults_to_400_invalid() -> None:
    error = ServiceError("no")
    assert refusal_body(error) == (400, {"detail": "no", "code": "invalid"})


def test_a_service_error_names_its_field_when_one_is_at_fault() -> None:
    error = ServiceError("too deep", code="invalid_metadata", field="metadata.a")
    assert refusal_body(error) == (
        400,
        {"detail": "too deep", "code": "invalid_metadata", "field": "metadata.a"},
    )


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (
            ImageRejected("the file is empty", code="empty"),
            400,
            {"detail": "the file is empty", "code": "empty"},
        ),
        (
            ImageRejected("too big", code="too_large", field="media"),
            413,
            {"media": ["too big"], "code": "too_large"},
        ),
        (
            ImageRejected("not an image", code="not_an_image", field="media"),
            400,
            {"media": ["not an image"], "code": "not_an_image"},
        ),
        (
            SubmissionError("key reused", code="idempotency_key_reused"),
            409,
            {"detail": "key reused", "code": "idempotency_key_reused"},
        ),
        (
            SubmissionError("only failed", code="not_failed"),
            409,
            {"detail": "only failed", "code": "not_failed"},
        ),
        (
            SubmissionError("bad", code="invalid_metadata", field="metadata"),
            400,
            {"detail": "bad", "code": "invalid_metadata", "field": "metadata"},
        ),
        (CaseError("no claims"), 400, {"detail": "no claims", "code": "case_invalid"}),
        (
            CaseError("not http", code="url_not_http"),
            400,
            {"detail": "not http", "code": "url_not_http"},
        ),
        (CaseConflict("changed"), 409, {"detail": "changed", "code": "case_conflict"}),
        (CasePermissionDenied("no"), 403, {"detail": "no", "code": "permission_denied"}),
        (
            DeliveryError("pending", code="delivery_pending"),
            409,
            {"detail": "pending", "code": "delivery_pending"},
        ),
        (
            SignatureError("no valid signature"),
            401,
            {"detail": "no valid signature", "code": "invalid_signature"},
        ),
        (
            PayloadInvalid("data must be an object"),
            400,
            {
                "detail": "data must be an object",
                "code": "invalid_payload",
            },
        ),
    ],
)
def test_the_drf_handler_answers_each_refusal_with_its_status_code_and_message(
    error: ServiceError, status: int, body: dict[str, object]
) -> None:
    response = api_exception_handler(error, {})
    assert response is not None
    assert (response.status_code, response.data) == (status, body)
    assert refusal_body(error) == (status, body)


def test_typed_errors_keep_their_builtin_bases() -> None:
    """Callers that catch ValueError or PermissionError keep working."""
    assert isinstance(ImageRejected("x", code="empty"), ValueError)
    assert isinstance(CasePermissionDenied("x"), PermissionError)
    assert isinstance(SubmissionError("x", code="invalid"), ValueError)


def test_other_errors_are_left_to_drf() -> None:
    assert api_exception_handler(RuntimeError("boom"), {}) is None
