"""What the OpenAPI schema says beyond what drf-spectacular reads from the views: a summary for
every operation (one place, keyed by operationId; a test fails when an operation has none), and
the inbound webhook endpoint, a plain Django view (DRF must not parse its signed bytes), so the
generator cannot see it.

Hooked in through SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"].
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.hooks import postprocess_schema_enums

from integrations.inbound import MAX_INBOUND_BODY_BYTES
from integrations.signing import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP

OPERATION_SUMMARIES = {
    "v1_me_retrieve": "Who is signed in (user or API client)",
    "v1_cases_list": "List fact-check cases",
    "v1_cases_create": "Open a case (or escalate a submission into one)",
    "v1_cases_retrieve": "A case with its claims, evidence, submissions and timeline",
    "v1_cases_assign_create": "Assign or unassign someone, or watch a case",
    "v1_cases_claims_create": "Add a claim to a case",
    "v1_cases_comments_list": "List a case's comments",
    "v1_cases_comments_create": "Comment on a case",
    "v1_cases_evidence_list": "List a case's evidence",
    "v1_cases_evidence_create": "Add evidence to a case",
    "v1_cases_evidence_verify_create": "Make uploaded evidence a verified original",
    "v1_cases_publish_create": "Publish a rated case as a fact-check",
    "v1_cases_rate_create": "Rate a case",
    "v1_cases_transition_create": "Move a case along the workflow",
    "v1_cases_related_retrieve": "Cases and fact-checks whose claims mean the same as a text",
    "v1_deliveries_list": "List outbound webhook deliveries",
    "v1_deliveries_retrieve": "One outbound webhook delivery",
    "v1_deliveries_redeliver_create": "Send an outbound webhook delivery again",
    "v1_references_list": "List verified originals",
    "v1_references_create": "Add a verified original",
    "v1_references_retrieve": "One verified original",
    "v1_references_destroy": "Remove a verified original from the index",
    "v1_submissions_list": "List submissions",
    "v1_submissions_create": "Submit an image or video for analysis",
    "v1_submissions_retrieve": "A submission's status",
    "v1_submissions_artifact_retrieve": "A report artifact image (masks, overlays)",
    "v1_submissions_annotated_video_retrieve": "The annotated video of a video report",
    "v1_submissions_report_retrieve": "A submission's report (report/1)",
    "v1_submissions_retry_create": "Retry a failed analysis",
    "v1_webhooks_inbound_create": "Receive content from a platform (signed webhook)",
}

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


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """drf-spectacular's enum hook, then the inbound webhook and every operation's summary."""
    result = postprocess_schema_enums(result, generator, request=request, public=public)
    paths = result.setdefault("paths", {})
    paths.setdefault(INBOUND_WEBHOOK_PATH, {})["post"] = INBOUND_WEBHOOK_OPERATION
    for operations in paths.values():
        for operation in operations.values():
            if isinstance(operation, dict) and not operation.get("summary"):
                summary = OPERATION_SUMMARIES.get(operation.get("operationId", ""))
                if summary:
                    operation["summary"] = summary
    result["paths"] = dict(sorted(paths.items()))
    return result
