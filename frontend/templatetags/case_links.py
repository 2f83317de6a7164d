"""`{% item_cases submission %}`: the item page's links to the cases its submission was
escalated into (moderation.escalation.submission_cases), for those who may see cases."""

from __future__ import annotations

from typing import Any

from django import template

from factcheck.cases.services import PERM_VIEW
from moderation.escalation import submission_cases
from moderation.models import Submission

register = template.Library()


@register.inclusion_tag("frontend/item_cases.html", takes_context=True)
def item_cases(context: dict[str, Any], submission: Submission) -> dict[str, Any]:
    user = context["request"].user
    return {"cases": submission_cases(submission) if user.has_perm(PERM_VIEW) else []}
