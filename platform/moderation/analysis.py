"""Analysing a stored submission: claim, run the pipeline, store one report version, route it.

Exactly one report per analysis request, however often the task is delivered:
- claim: received -> analyzing by compare-and-set; `analyzing` stays claimable because a worker
  that died mid-analysis leaves it there and the broker redelivers the task (acks_late);
- store: under a row lock, only while the submission is still `analyzing`; the same transaction
  writes the report, moves `is_current`, sets `analyzed`, routes the review item and writes the
  event. A second delivery that finishes later finds `analyzed` and stores nothing.
Deliveries are counted in `attempts`; past MAX_ANALYSIS_ATTEMPTS (a poison image that keeps
killing or timing out its worker) the submission is marked failed instead of looping.

Whatever fails after the claim (loading the row, reading the media, the pipeline, encoding, any
write of the store transaction, which then rolls back with its files) is recorded as `failed`
with its reason, so a delivered analysis never stays `analyzing`. Only a failure that cannot be
recorded (the database is down) escapes: the task retries it, and `analyses_resume` (beat)
re-queues submissions left `received` or `analyzing` past any live task's time.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.urls import reverse
from django.utils import timezone

from factcheck.recheck import query_video_keep
from mediastore.images import ImageRejected
from mediastore.models import MediaObject
from mediastore.services import media_read
from mediastore.videos import VideoRejected
from moderation.events import SUBMISSION_ANALYZED, VERDICT_CHANGED, event_emit
from moderation.models import Report, ReportArtifact, ReviewItem, Submission, artifact_file_type
from moderation.pipeline import Analysis, EncodedArtifact, image_analyze
from moderation.report_document import verdict_object
from moderation.selectors import report_current
from moderation.verdict import review_priority
from moderation.video_pipeline import VideoAnalysis, video_analyze, video_annotate

MAX_ANALYSIS_ATTEMPTS = 3
# A 1024-px image takes about a second; the limits only stop runaway inputs. Both stay far
# below the broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT), so Redis never hands a
# running analysis to a second worker.
ANALYSIS_SOFT_TIME_LIMIT = 120
ANALYSIS_TIME_LIMIT = 150
# Videos run on their own queue (`video`, moderation.analyze_video) so long ones never hold up
# images: up to VIDEO_MAX_SECONDS (600 s) of video analysed at about 2x real time, plus the
# annotated video's pass; still below the broker's visibility timeout.
VIDEO_ANALYSIS_SOFT_TIME_LIMIT = 660
VIDEO_ANALYSIS_TIME_LIMIT = 720
# Unchanged this long, an `analyzing` submission has no live task: the pool kills a child at
# the hard time limit. The repair queues it again (the attempt counter still bounds the loop).
ANALYZING_STALLED_AFTER = timedelta(seconds=ANALYSIS_TIME_LIMIT + 60)
VIDEO_ANALYZING_STALLED_AFTER = timedelta(seconds=VIDEO_ANALYSIS_TIME_LIMIT + 60)
# A `received` one this old lost its message (refused by the broker after commit, a Redis
# restarted without its data). Longer than a normal queue wait: a backlog gets at most one
# extra copy per period, and a copy that comes second finds the analysis done.
RECEIVED_STALLED_AFTER = timedelta(minutes=15)
MAX_FAILURE_REASON_LENGTH = 2000
MAX_REPORT_REASON_LENGTH = 200
ARTIFACTS_PREFIX = "reports"

logger = logging.getLogger(__name__)


def artifact_storage_name(submission_id: int, version: int, kind: str) -> str:
    extension = artifact_file_type(kind).extension
    return f"{ARTIFACTS_PREFIX}/{submission_id}/v{version}/{kind}.{extension}"


def submission_input_name(submission: Submission) -> str:
    return f"submission:{submission.pk}"


def report_url(submission_id: int) -> str:
    return reverse("submission-report", kwargs={"pk": submission_id})


def analysis_enqueue(*, submission_id: int, media_kind: str, reason: str = "") -> None:
    """Queue the analysis once the current transaction commits: videos on their own task and
    queue (`video`, longer time limits), images on `analyze`."""
    from moderation.tasks import analyze_submission, analyze_video

    task = analyze_video if media_kind == MediaObject.Kind.VIDEO else analyze_submission
    transaction.on_commit(functools.partial(task.delay, submission_id, reason=reason))


def submission_analyze(*, submission_id: int, reason: str = "") -> Report | None:
    """The analyze_submission task body. Returns the stored report, or None when there was
    nothing to do (already analysed, failed, gone) or the analysis failed (recorded).

    Raises only when the failure itself cannot be recorded (the database is down)."""
    claimed = Submission.objects.filter(
        pk=submission_id,
        status__in=[Submission.Status.RECEIVED, Submission.Status.ANALYZING],
    ).update(status=Submission.Status.ANALYZING, attempts=F("attempts") + 1)
    if claimed != 1:
        return None
    try:
        return _analyze_claimed(submission_id, reason=reason)
    except ImageRejected as error:
        _fail(submission_id, f"the image cannot be analysed: {error}")
    except VideoRejected as error:
        _fail(submission_id, f"the video cannot be analysed: {error}")
    except SoftTimeLimitExceeded:
        _fail(submission_id, "the analysis took longer than its time limit")
    except Exception as error:  # recorded for the operator and retryable; never silent
        logger.exception("analysis of submission %s failed", submission_id)
        _fail(submission_id, f"analysis failed: {error.__class__.__name__}: {error}")
    return None


def _analyze_claimed(submission_id: int, *, reason: str) -> Report | None:
    submission = Submission.objects.select_related("media", "client").get(pk=submission_id)
    if submission.attempts > MAX_ANALYSIS_ATTEMPTS:
        _fail(
            submission_id,
            f"gave up after {MAX_ANALYSIS_ATTEMPTS} attempts: each one stopped before it "
            "finished (worker crash, time limit or database outage)",
        )
        return None
    content = media_read(submission.media)
    analysis: Analysis | VideoAnalysis
    video = submission.media.kind == MediaObject.Kind.VIDEO
    if video:
        analysis = video_analyze(
            content=content, input_name=submission_input_name(submission), text=submission.text
        )
        if analysis.fingerprint is not None:
            query_video_keep(sha256=submission.media.sha256, fingerprint=analysis.fingerprint)
    else:
        analysis = image_analyze(
            content=content,
            input_name=submission_input_name(submission),
            text=submission.text,
            encode_artifacts=True,
        )
    report = report_store(
        submission_id=submission_id,
        analysis=analysis,
        expected_status=Submission.Status.ANALYZING,
        reason=reason or "analysis",
    )
    if video and report is not None:
        annotated_video_queue(report_id=report.pk)
    return report


def annotated_video_queue(*, report_id: int) -> None:
    """Queue the annotated video of a stored video report version (its own task, after the
    report: reviewers and webhooks need not wait for it)."""
    from moderation.tasks import render_annotated_video

    render_annotated_video.delay(report_id)


def annotated_video_render(*, report_id: int) -> bool:
    """Draw and store the annotated video (and contact sheet) of a video report version; the
    report itself is stored first, so reviewers and webhooks need not wait for it. Idempotent:
    a version that has its video is left alone. Returns whether anything was stored."""
    report = Report.objects.select_related("submission__media").filter(pk=report_id).first()
    if report is None or report.submission.media.kind != MediaObject.Kind.VIDEO:
        return False
    if report.artifacts.filter(kind=ReportArtifact.Kind.ANNOTATED).exists():
        return False
    output = video_annotate(content=media_read(report.submission.media), document=report.document)
    written: list[str] = []
    try:
        with transaction.atomic():
            _store_artifacts(report, output.artifacts(), written)
    except IntegrityError:  # a concurrent copy of the task stored them first
        _files_discard(written)
        return False
    except BaseException:
        _files_discard(written)
        raise
    return True


def _fail(submission_id: int, reason: str) -> None:
    # Compare-and-set: a failure raised after a successful commit never overwrites `analyzed`.
    Submission.objects.filter(pk=submission_id, status=Submission.Status.ANALYZING).update(
        status=Submission.Status.FAILED, failure_reason=reason[:MAX_FAILURE_REASON_LENGTH]
    )


def analyses_resume() -> int:
    """Queue again every submission left `received` or `analyzing` longer than a live task
    could take (a lost message, an acked task that died, an outage that ate the retries).

    Each one is claimed for the re-queue by compare-and-set on `updated_at`, so two runs (or a
    run and the task itself) never queue it twice in one period. Returns how many were queued.
    """
    now = timezone.now()
    analyzing = Q(status=Submission.Status.ANALYZING)
    video = Q(media__kind=MediaObject.Kind.VIDEO)
    stalled = list(
        Submission.objects.filter(
            (analyzing & ~video & Q(updated_at__lt=now - ANALYZING_STALLED_AFTER))
            | (analyzing & video & Q(updated_at__lt=now - VIDEO_ANALYZING_STALLED_AFTER))
            | Q(status=Submission.Status.RECEIVED, updated_at__lt=now - RECEIVED_STALLED_AFTER)
        ).values_list("pk", "status", "updated_at", "media__kind")
    )
    queued = 0
    for submission_id, status, updated_at, kind in stalled:
        with transaction.atomic():
            touched = Submission.objects.filter(
                pk=submission_id, status=status, updated_at=updated_at
            ).update(updated_at=now)
            if touched == 1:
                analysis_enqueue(submission_id=submission_id, media_kind=kind)
                queued += 1
    if queued:
        logger.warning("re-queued %s stalled analyses", queued)
    return queued


def report_store(
    *,
    submission_id: int,
    analysis: Analysis | VideoAnalysis,
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
    written: list[str] = []
    stored = False
    try:
        with transaction.atomic():
            report = _report_write(
                submission_id,
                analysis,
                artifacts,
                expected_status=expected_status,
                reason=reason,
                event_type=event_type,
                written=written,
            )
            stored = True
    except BaseException:
        if not stored:  # rolled back: the files of this version belong to no report
            _files_discard(written)
        raise
    return report


def _report_write(
    submission_id: int,
    analysis: Analysis | VideoAnalysis,
    artifacts: dict[str, EncodedArtifact],
    *,
    expected_status: str,
    reason: str,
    event_type: str | None,
    written: list[str],
) -> Report | None:
    """The writes of report_store, inside its transaction; `written` collects stored files."""
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
    _store_artifacts(report, artifacts, written)
    Submission.objects.filter(pk=submission.pk).update(
        status=Submission.Status.ANALYZED, failure_reason=""
    )
    previous_label = previous.label if previous is not None else None
    label_changed = previous_label is not None and previous_label != report.label
    review_item_route(submission=submission, report=report, reopen=label_changed)
    if event_type is not None:
        event_emit(type=event_type, submission=submission, data=event_payload(report))
    if label_changed:
        event_emit(
            type=VERDICT_CHANGED,
            submission=submission,
            data={**event_payload(report), "previous_label": previous_label},
        )
    return report


def _store_artifacts(
    report: Report, artifacts: dict[str, EncodedArtifact], written: list[str]
) -> None:
    for kind, (encoded, width, height) in artifacts.items():
        name = artifact_storage_name(report.submission_id, report.version, kind)
        # A worker killed mid-store may have left the same name behind; its transaction rolled
        # back, so the file is an orphan of this very version and is replaced.
        if default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(encoded))
        written.append(saved)
        ReportArtifact.objects.create(
            report=report, kind=kind, file=saved, width=width, height=height
        )


def _files_discard(names: list[str]) -> None:
    """Best effort: a file left behind is replaced by the next store of the same version."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s of a rolled-back report", name, exc_info=True)


def event_payload(report: Report) -> dict[str, Any]:
    return {
        "submission_id": report.submission_id,
        "external_id": report.submission.external_id,
        "report_version": report.version,
        "verdict": verdict_object(report.document),
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
