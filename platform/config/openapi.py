"""A summary for every operation of the OpenAPI schema, in one place keyed by operationId (a
test fails when an operation has none). A postprocessing hook (SPECTACULAR_SETTINGS), run after
the others, so operations added by hooks (integrations.openapi) that carry their own summary
keep it.
"""

from __future__ import annotations

from typing import Any

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
}


def summaries_add(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Give each operation without a summary its OPERATION_SUMMARIES entry."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and not operation.get("summary"):
                summary = OPERATION_SUMMARIES.get(operation.get("operationId", ""))
                if summary:
                    operation["summary"] = summary
    return result
