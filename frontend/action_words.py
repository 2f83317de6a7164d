"""Audit entries and case timeline entries as pages show them: the one place that words their
actions (the stored codes stay as they are; the audit page shows the words with the code for
those who filter the log by it) and links what an audit entry acted on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from moderation.models import Decision

# Case timeline kinds (factcheck.cases: `case_record`), also audited as `case.<kind>`.
CASE_EVENT_WORDS = {
    "create": "opened the case",
    "escalate": "escalated content into the case",
    "link_submission": "linked a submission",
    "claim_add": "added a claim",
    "comment": "commented",
    "evidence_add": "added evidence",
    "verified_original": "added evidence to the index as a verified original",
    "reference_correct": "corrected a verified original's details",
    "reference_remove": "removed a verified original from the index",
    "status": "moved the case",
    "rate": "rated the case",
    "publish": "published the fact-check",
    "correct": "corrected and republished the fact-check",
    "assignee_add": "assigned someone",
    "assignee_remove": "unassigned someone",
    "watcher_add": "started watching",
    "watcher_remove": "stopped watching",
    "due_date": "set the due date",
}

ACTION_WORDS = {
    "api_client.create": "Created an API client",
    "api_token.issue": "Issued an API token",
    "delivery.redeliver": "Sent a webhook delivery again",
    "reference.add": "Added a verified original",
    "reference.correct": "Corrected a verified original",
    "reference.remove": "Removed a verified original",
    "review_item.claim": "Claimed an item for review",
    "review_item.release": "Returned an item to the queue",
    "review_item.escalate": "Escalated an item to a case",
    "submission.create": "Received a submission",
    "submission.reanalyze": "Analysed a submission again",
    "submission.retry": "Retried a failed analysis",
    "user.create_demo_admin": "Created the demo administrator",
    "webhook_endpoint.create": "Added a webhook endpoint",
    "webhook_endpoint.update": "Changed a webhook endpoint",
    "webhook_endpoint.disable": "Disabled a webhook endpoint",
    "webhook_secret.issue": "Issued a webhook secret",
    "webhook_secret.rotate": "Rotated a webhook secret",
    "near_miss.confirmed": "Confirmed a near miss as the original",
    "near_miss.dismissed": "Dismissed a near miss",
}


def case_event_words(kind: str) -> str:
    return CASE_EVENT_WORDS.get(kind) or kind.replace("_", " ")


def action_words(code: str) -> str:
    """An audit action in words; an action not listed reads as its code split into words."""
    if code in ACTION_WORDS:
        return ACTION_WORDS[code]
    family, _, detail = code.partition(".")
    if family == "case" and detail:
        return "Case: " + case_event_words(detail)
    if family == "decision" and detail in Decision.Action.values:
        return f"Decided: {Decision.Action(detail).label}"
    return code.replace(".", ": ").replace("_", " ").capitalize()


@dataclass(frozen=True)
class AuditTarget:
    text: str  # "case 12", "review item 3", "submission 7"
    url: str  # a page about it, or "" when there is none


# Targets with a page of their own in the UI (url name, id); anything else registered in the
# Django admin links to its change page there (the audit log is for administrators).
_TARGET_PAGES = {"moderation.reviewitem": "review-item", "factcheck.case": "case-detail"}


def audit_target(target_type: str, target_id: str, data: dict[str, Any]) -> AuditTarget:
    """What an audit entry acted on, in words and linked where there is a page for it."""
    if not target_type:
        return AuditTarget(text="", url="")
    try:
        model = apps.get_model(target_type)
    except (LookupError, ValueError):
        return AuditTarget(text=f"{target_type} {target_id}", url="")
    text = f"{model._meta.verbose_name} {target_id}"
    if not target_id.isdigit():
        return AuditTarget(text=text, url="")
    if target_type in _TARGET_PAGES:
        return AuditTarget(text=text, url=reverse(_TARGET_PAGES[target_type], args=[target_id]))
    item = data.get("item") if isinstance(data, dict) else None
    if target_type == "moderation.decision" and str(item).isdigit():
        return AuditTarget(
            text=f"{text} on review item {item}", url=reverse("review-item", args=[item])
        )
    if admin.site.is_registered(model):
        meta = model._meta
        try:
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[target_id])
        except NoReverseMatch:
            url = ""
        return AuditTarget(text=text, url=url)
    return AuditTarget(text=text, url="")
