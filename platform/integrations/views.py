"""The inbound webhook endpoint: no token and no CSRF, the Standard Webhooks signature is the
authentication, checked over the raw body before anything is parsed.

A plain Django view (DRF's parsers and authentication must not touch the signed bytes); its
refusals are the services' typed errors (config.errors), answered with the same status and
body as every DRF view."""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.errors import ServiceError, refusal_body
from integrations.inbound import MAX_INBOUND_BODY_BYTES, InboundResult, inbound_webhook_receive
from integrations.signing import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP


class BodyRefused(ServiceError):
    """The request's body cannot be read as sent (its framing or its size)."""


def _too_large() -> BodyRefused:
    return BodyRefused(
        f"body is over the {MAX_INBOUND_BODY_BYTES}-byte limit; send media_url",
        code="too_large",
        status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    )


def _signed_body(request: HttpRequest) -> bytes:
    """The exact bytes the signature covers, or BodyRefused."""
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django reads Content-Length bytes only; a chunked body would be verified as empty.
        raise BodyRefused(
            "send the body with a Content-Length",
            code="length_required",
            status=HTTPStatus.LENGTH_REQUIRED,
        )
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        raise BodyRefused("invalid Content-Length", code="invalid_content_length")
    if int(declared) > MAX_INBOUND_BODY_BYTES:
        raise _too_large()
    # Read the stream, not request.body: the signature covers these exact bytes, and
    # DATA_UPLOAD_MAX_MEMORY_SIZE is not the limit that applies here.
    body = request.read(MAX_INBOUND_BODY_BYTES + 1)
    if len(body) > MAX_INBOUND_BODY_BYTES:
        raise _too_large()
    return body


@csrf_exempt
@require_POST
def inbound_webhook(request: HttpRequest, client: str) -> JsonResponse:
    try:
        body = _signed_body(request)
        headers = {
            name: request.headers.get(name, "")
            for name in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
        }
        # SignatureError 401 invalid_signature, PayloadInvalid 400 with its code.
        result = inbound_webhook_receive(client_slug=client, headers=headers, body=body)
    except ServiceError as error:
        status, refusal = refusal_body(error)
        return JsonResponse(refusal, status=status)
    return JsonResponse(_result_document(result), status=200 if result.duplicate else 202)


def _result_document(result: InboundResult) -> dict[str, object]:
    inbound = result.inbound
    return {
        "id": inbound.pk,
        "webhook_id": inbound.webhook_id,
        "external_id": inbound.external_id,
        "status": inbound.status,
        "submission_id": inbound.submission_id,
        "duplicate": result.duplicate,
    }
