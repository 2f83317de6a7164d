"""Reads for submissions and reports, with the visibility rule every entry point shares."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiClient, User
from moderation.models import Report, ReportArtifact, Submission

VIEW_ALL_PERMISSION = "moderation.view_submission"


def api_client_of(user: User) -> ApiClient | None:
    try:
        return user.api_client
    except ApiClient.DoesNotExist:
        return None


def submissions_visible_to(user: User) -> QuerySet[Submission]:
    """An API client sees its own submissions only; staff with view_submission see all."""
    queryset = Submission.objects.select_related("media", "client")
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    client = api_client_of(user)
    if client is not None:
        return queryset.filter(client=client)
    if user.has_perm(VIEW_ALL_PERMISSION):
        return queryset
    return queryset.none()


def report_current(submission: Submission) -> Report | None:
    return Report.objects.filter(submission=submission, is_current=True).first()


def report_get(submission: Submission, *, version: int | None = None) -> Report | None:
    """The given version, or the current one."""
    if version is None:
        return report_current(submission)
    return Report.objects.filter(submission=submission, version=version).first()


def report_artifact(report: Report, *, kind: str) -> ReportArtifact | None:
    return ReportArtifact.objects.filter(report=report, kind=kind).first()


def report_versions(submission: Submission) -> list[int]:
    return list(
        Report.objects.filter(submission=submission)
        .order_by("version")
        .values_list("version", flat=True)
    )
