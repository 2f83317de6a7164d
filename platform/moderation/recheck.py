"""Re-check recent submissions when new verified originals become searchable.

factcheck sends `factcheck.signals.references_indexed` after it publishes an index version;
`references_indexed_receiver` (connected in ModerationConfig.ready) queues the re-check. Each
analysed submission from the last RECHECK_WINDOW_DAYS days is checked against the new
references only (cheap: an image is verified against new image references and looked up among
new reference videos' frame hashes; a video's kept temporal fingerprint is aligned with new
reference videos and searched for new image references, factcheck.recheck). A submission that
matches is analysed again in full and gets a new report version (the old one is kept), with
`verdict.changed` when the label differs.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from factcheck.recheck import (
    image_in_reference_videos,
    query_video_fingerprint,
    video_shows_references,
)
from factcheck.selectors import reference_ids_matching
from mediastore.models import MediaObject
from mediastore.services import media_read
from moderation.analysis import annotated_video_queue, report_store, submission_input_name
from moderation.models import Report, Submission
from moderation.pipeline import Analysis, image_analyze, image_decode
from moderation.report_document import matched_reference_ids
from moderation.selectors import report_current
from moderation.video_pipeline import VideoAnalysis, video_analyze


def recheck_window_days() -> int:
    """settings.RECHECK_WINDOW_DAYS (the default lives there)."""
    return int(settings.RECHECK_WINDOW_DAYS)


def references_indexed_receiver(
    sender: object, *, reference_ids: list[int], **kwargs: object
) -> None:
    from moderation.tasks import recheck_references

    ids = [int(ref_id) for ref_id in reference_ids]
    transaction.on_commit(functools.partial(recheck_references.delay, ids))


def submissions_to_recheck() -> list[tuple[int, bool]]:
    """(id, is a video) of the analysed submissions of the re-check window, oldest first."""
    since = timezone.now() - timedelta(days=recheck_window_days())
    rows = (
        Submission.objects.filter(status=Submission.Status.ANALYZED, created_at__gte=since)
        .order_by("id")
        .values_list("id", "media__kind")
    )
    return [(submission_id, kind == MediaObject.Kind.VIDEO) for submission_id, kind in rows]


def _already_matched(report: Report | None, reference_ids: list[int]) -> bool:
    if report is None:
        return False
    return not set(matched_reference_ids(report.document)).isdisjoint(reference_ids)


def submission_recheck(*, submission_id: int, reference_ids: list[int]) -> Report | None:
    """A new report version when the submission matches one of `reference_ids`, else None."""
    submission = (
        Submission.objects.select_related("media")
        .filter(pk=submission_id, status=Submission.Status.ANALYZED)
        .first()
    )
    if submission is None or _already_matched(report_current(submission), reference_ids):
        return None
    analysis = (
        _video_recheck(submission, reference_ids)
        if submission.media.kind == MediaObject.Kind.VIDEO
        else _image_recheck(submission, reference_ids)
    )
    if analysis is None:
        return None
    names = ", ".join(str(ref_id) for ref_id in reference_ids[:5])
    report = report_store(
        submission_id=submission_id,
        analysis=analysis,
        expected_status=Submission.Status.ANALYZED,
        reason=f"new verified original (reference {names})",
        event_type=None,  # verdict.changed is emitted by report_store when the label changed
    )
    if report is not None and isinstance(analysis, VideoAnalysis):
        annotated_video_queue(report_id=report.pk)
    return report


def _image_recheck(submission: Submission, reference_ids: list[int]) -> Analysis | None:
    """The image's full analysis again when it matches a new image reference or is a frame of a
    new reference video; None when it does neither."""
    content = media_read(submission.media)
    decoded = image_decode(content)
    image = decoded.image
    found = reference_ids_matching(image=image, reference_ids=reference_ids).matches
    if not found and not image_in_reference_videos(image=image, reference_ids=reference_ids):
        return None
    return image_analyze(
        content=content,
        input_name=submission_input_name(submission),
        text=submission.text,
        decoded=decoded,
        encode_artifacts=True,
    )


def _video_recheck(submission: Submission, reference_ids: list[int]) -> VideoAnalysis | None:
    """The video's full analysis again when its frames line up with a new reference video or
    show a new image reference; None otherwise."""
    fingerprint = query_video_fingerprint(
        sha256=submission.media.sha256, content=functools.partial(media_read, submission.media)
    )
    if not video_shows_references(fingerprint=fingerprint, reference_ids=reference_ids):
        return None
    return video_analyze(
        content=media_read(submission.media),
        input_name=submission_input_name(submission),
        text=submission.text,
    )
