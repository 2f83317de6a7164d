"""Analysing a stored submission: claim, run the pipeline, store one report version, route it.

Exactly one report per analysis request, however often the task is delivered:
- claim: received -> analyzing by compare-and-set; `analyzing` stays claimable because a worker
  that died mid-analysis leaves it there and the broker redelivers the task (acks_late);
- store: under a row lock, only while the submission is still `analyzing`; the same transaction
  writes the report, moves `is_current`, sets `analyzed`, routes the review item and writes the
  event. A second delivery that finishes later finds `analyzed` and stores nothing.
Deliveries are counted in `attempts`; past MAX_ANALYSIS_ATTEMPTS (a poison image that keeps
killing or timing out its worker) the submission is marked failed instead of looping.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Max
from django.urls import reverse

from mediastore.images import ImageRejected
from mediastore.services import media_read
from moderation.events import SUBMISSION_ANALYZED, VERDICT_CHANGED, event_emit
from moderation.models import Report, ReportArtifact, ReviewItem, Submission
from moderation.pipeline import Analysis, image_analyze
from moderation.selectors import report_current
from moderation.verdict import review_priority

MAX_ANALYSIS_ATTEMPTS = 3
MAX_FAILURE_REASON_LENGTH = 2000
MAX_REPORT_REASON_LENGTH = 200
ARTIFACTS_PREFIX = "reports"

logger = logging.getLogger(__name__)


def artifact_storage_name(submission_id: int, version: int, kind: str) -> str:
    return f"{ARTIFACTS_PREFIX}/{submission_id}/v{version}/{kind}.png"


def submission_input_name(submission: Submission) -> str:
    return f"submission:{submission.pk}"


def report_url(submission_id: int) -> str:
    return reverse("submission-report", kwargs={"pk": submission_id})


def submission_analyze(*, submission_id: int, reason: str = "") -> Report | None:
    """The analyze_submission task body. Returns the stored report, or None when there was
    nothing to do (already analysed, failed, gone) or the analysis failed (recorded)."""
    claimed = Submission.objects.filter(
        pk=submission_id,
        status__in=[Submission.Status.RECEIVED, Submission.Status.ANALYZING],
    ).update(status=Submission.Status.ANALYZING, attempts=F("attempts") + 1)
    if claimed != 1:
        return None
    submission = Submission.objects.select_related("media", "client").get(pk=submission_id)
    if submission.attempts > MAX_ANALYSIS_ATTEMPTS:
        _fail(
            submission_id,
            f"gave up after {MAX_ANALYSIS_ATTEMPTS} attempts: each one stopped the worker "
            "(crash or time limit) before it finished",
        )
        return None
    try:
        analysis = image_analyze(
            content=media_read(submission.media),
            input_name=submission_input_name(submission),
            text=submission.text,
            encode_artifacts=True,
        )
    except ImageRejected as error:
        _fail(submission_id, f"the image cannot be analysed: {error}")
        return None
    except SoftTimeLimitExceeded:
        _fail(submission_id, "the analysis took longer than its time limit")
        return None
    except Exception as error:  # recorded for the operator and retryable; never silent
        logger.exception("analysis of submission %s failed", submission_id)
        _fail(submission_id, f"analysis failed: {error.__class__.__name__}: {error}")
        return None
    return report_store(
        submission_id=submission_id,
        analysis=analysis,
        expected_status=Submission.Status.ANALYZING,
        reason=reason or "analysis",
    )


def _fail(submission_id: int, reason: str) -> None:
    Submission.objects.filter(pk=submission_id, status=Submission.Status.ANALYZING).update(
        status=Submission.Status.FAILED, failure_reason=reason[:MAX_FAILURE_REASON_LENGTH]
    )


def report_store(
    *,
    submission_id: int,
    analysis: Analysis,
    expected_status: str,
    reason: str,
    event_type: str | None = SUBMISSION_ANALYZED,
) -> Report | None:
    """Store `analysis` as the submission's next, current report version, in one transaction.

    Nothing is stored (None) unless the submission is still in `expected_status`: another
    delivery already finished, or the submission moved on. `event_type` is emitted for the new
    version, and `verdict.changed` as well whenever the label differs from the previous version.
    """
    # Encoding happens before the row lock is taken: the lock is held for database writes only.
    artifacts = analysis.artifact_pngs()
    with transaction.atomic():
        submission = (
            Submission.objects.select_for_update(of=("self",))
            .select_related("client")
            .get(pk=submission_id)
        )
        if submission.status != expected_status:
            return None
        previous = report_current(submission)
        latest = Report.objects.filter(submission=submission).aggregate(top=Max("version"))
        version = (latest["top"] or 0) + 1
        Report.objects.filter(submission=submission, is_current=True).update(is_current=False)
        report = Report.objects.create(
            submission=submission,
            version=version,
            is_current=True,
            document=analysis.document,
            label=analysis.verdict.label,
            manipulation_probability=analysis.verdict.manipulation_probability,
            reason=reason[:MAX_REPORT_REASON_LENGTH],
        )
        _store_artifacts(report, artifacts)
        Submission.objects.filter(pk=submission.pk).update(
            status=Submission.Status.ANALYZED, failure_reason=""
        )
        label_changed = previous is not None and previous.label != report.label
        review_item_route(submission=submission, report=report, reopen=label_changed)
        if event_type is not None:
            event_emit(type=event_type, submission=submission, data=event_payload(report))
        if label_changed:
            event_emit(
                type=VERDICT_CHANGED,
                submission=submission,
                data={**event_payload(report), "previous_label": previous.label},
            )
    return report


def _store_artifacts(report: Report, artifacts: dict[str, tuple[bytes, int, int]]) -> None:
    for kind, (png, width, height) in artifacts.items():
        name = artifact_storage_name(report.submission_id, report.version, kind)
        # A crashed earlier attempt may have left the same name behind; its transaction rolled
        # back, so the file is an orphan of this very version and is replaced.
        if default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(png))
        ReportArtifact.objects.create(
            report=report, kind=kind, file=saved, width=width, height=height
        )


def event_payload(report: Report) -> dict[str, Any]:
    return {
        "submission_id": report.submission_id,
        "external_id": report.submission.external_id,
        "report_version": report.version,
        "verdict": report.document.get("verdict", {}),
        "report_url": report_url(report.submission_id),
    }


def review_item_route(*, submission: Submission, report: Report, reopen: bool) -> ReviewItem:
    """Create or update the submission's review item with the priority of this report.

    A decided item goes back to pending when the verdict changed: the decision was made on
    evidence that no longer holds.
    """
    priority = review_priority(
        label=report.label,
        probability=report.manipulation_probability,
        source=submission.source,
        metadata=submission.metadata,
    )
    item, created = ReviewItem.objects.get_or_create(
        submission=submission, defaults={"priority": priority}
    )
    if created:
        return item
    changes: dict[str, Any] = {"priority": priority}
    if reopen and item.status == ReviewItem.Status.DECIDED:
        changes.update(status=ReviewItem.Status.PENDING, claimed_by=None, lease_expires_at=None)
    ReviewItem.objects.filter(pk=item.pk).update(**changes)
    item.refresh_from_db()
    return item
