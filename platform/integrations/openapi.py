"""The inbound webhook endpoint in the OpenAPI schema. It is a plain Django view (DRF must not
parse the signed bytes), so drf-spectacular cannot see it: this postprocessing hook
(SPECTACULAR_SETTINGS) adds it, described from the constants the endpoint enforces."""

from __future__ import annotations

from typing import Any

from integrations.inbound import MAX_INBOUND_BODY_BYTES
from integrations.signing import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP

INBOUND_WEBHOOK_PATH = "/api/v1/webhooks/inbound/{client}/"
_REFUSAL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}
_INBOUND_RESULT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "webhook_id": {"type": "string"},
        "external_id": {"type": "string"},
        "status": {"type": "string"},
        "submission_id": {"type": "integer", "nullable": True},
        "duplicate": {"type": "boolean"},
    },
    "required": ["id", "webhook_id", "external_id", "status", "submission_id", "duplicate"],
}


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _REFUSAL}}}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


INBOUND_WEBHOOK_OPERATION: dict[str, Any] = {
    "operationId": "v1_webhooks_inbound_create",
    "summary": "Receive content from a platform (signed webhook)",
    "tags": ["v1"],
    "description": (
        "Standard Webhooks: the signature over the raw body is the authentication (no token, "
        "no CSRF). `data.id` becomes the submission's `external_id`; the same `webhook-id` "
        f"again answers 200 with `duplicate: true`. Bodies over {MAX_INBOUND_BODY_BYTES} bytes "
        "are refused (send `media_url`)."
    ),
    "parameters": [
        {
            "name": "client",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
            "description": "The API client's slug.",
        },
        _header(HEADER_ID, "Unique id of this message."),
        _header(HEADER_TIMESTAMP, "Unix seconds when it was signed."),
        _header(HEADER_SIGNATURE, "`v1,<base64 HMAC-SHA256>` (space-separated, any may match)."),
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": ["content.created"]},
                        "data": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "media_url": {"type": "string", "format": "uri"},
                                "media_base64": {"type": "string"},
                                "caption": {"type": "string"},
                                "author": {"type": "object"},
                                "reach": {"type": "integer", "minimum": 0},
                            },
                            "required": ["id"],
                        },
                    },
                    "required": ["type", "data"],
                }
            }
        },
    },
    "responses": {
        "202": {
            "description": "Accepted: a submission is created and queued.",
            "content": {"application/json": {"schema": _INBOUND_RESULT}},
        },
        "200": {
            "description": "A message already received (same webhook-id): nothing new.",
            "content": {"application/json": {"schema": _INBOUND_RESULT}},
        },
        "400": _refusal("The payload is invalid (`code` says how)."),
        "401": _refusal("Missing or bad signature, stale timestamp or unknown client."),
        "411": _refusal("A chunked body: send a Content-Length."),
        "413": _refusal("The body is over the limit."),
    },
    "security": [],
}


def inbound_webhook_add(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    paths = result.setdefault("paths", {})
    paths.setdefault(INBOUND_WEBHOOK_PATH, {})["post"] = INBOUND_WEBHOOK_OPERATION
    result["paths"] = dict(sorted(paths.items()))
    return result
