"""The inbound webhook endpoint: no token and no CSRF, the Standard Webhooks signature is the
authentication, checked over the raw body before anything is parsed."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.inbound import (
    MAX_INBOUND_BODY_BYTES,
    InboundResult,
    PayloadInvalid,
    inbound_webhook_receive,
)
from integrations.signing import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignatureError


def _too_large() -> JsonResponse:
    return JsonResponse(
        {
            "detail": f"body is over the {MAX_INBOUND_BODY_BYTES}-byte limit; send media_url",
            "code": "too_large",
        },
        status=413,
    )


@csrf_exempt
@require_POST
def inbound_webhook(request: HttpRequest, client: str) -> JsonResponse:
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django reads Content-Length bytes only; a chunked body would be verified as empty.
        return JsonResponse(
            {"detail": "send the body with a Content-Length", "code": "length_required"},
            status=411,
        )
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        return JsonResponse(
            {"detail": "invalid Content-Length", "code": "invalid_content_length"}, status=400
        )
    if int(declared) > MAX_INBOUND_BODY_BYTES:
        return _too_large()
    # Read the stream, not request.body: the signature covers these exact bytes, and
    # DATA_UPLOAD_MAX_MEMORY_SIZE is not the limit that applies here.
    body = request.read(MAX_INBOUND_BODY_BYTES + 1)
    if len(body) > MAX_INBOUND_BODY_BYTES:
        return _too_large()
    headers = {
        name: request.headers.get(name, "")
        for name in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
    }
    try:
        result = inbound_webhook_receive(client_slug=client, headers=headers, body=body)
    except SignatureError as error:
        return JsonResponse({"detail": str(error), "code": "invalid_signature"}, status=401)
    except PayloadInvalid as error:
        return JsonResponse({"detail": str(error), "code": error.code}, status=400)
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
