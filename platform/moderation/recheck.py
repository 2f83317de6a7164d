"""Re-check recent submissions when new verified originals become searchable.

factcheck sends `factcheck.signals.references_indexed` after it publishes an index version;
`references_indexed_receiver` (connected in ModerationConfig.ready) queues the re-check. Each
analysed submission from the last RECHECK_WINDOW_DAYS days is verified against the new
references only (cheap); a submission that matches is analysed again in full and gets a new
report version (the old one is kept), with `verdict.changed` when the label differs.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from factcheck.selectors import reference_ids_matching
from mediastore.models import MediaObject
from mediastore.services import media_read
from moderation.analysis import report_store, submission_input_name
from moderation.models import Report, Submission
from moderation.pipeline import image_analyze, image_decode
from moderation.report_document import matched_reference_ids
from moderation.selectors import report_current


def recheck_window_days() -> int:
    """settings.RECHECK_WINDOW_DAYS (the default lives there)."""
    return int(settings.RECHECK_WINDOW_DAYS)


def references_indexed_receiver(
    sender: object, *, reference_ids: list[int], **kwargs: object
) -> None:
    from moderation.tasks import recheck_references

    ids = [int(ref_id) for ref_id in reference_ids]
    transaction.on_commit(functools.partial(recheck_references.delay, ids))


def submissions_to_recheck() -> list[int]:
    """Analysed image submissions of the re-check window. Videos are matched in time at their
    analysis; re-checking them against new references is not done yet."""
    since = timezone.now() - timedelta(days=recheck_window_days())
    return list(
        Submission.objects.filter(status=Submission.Status.ANALYZED, created_at__gte=since)
        .exclude(media__kind=MediaObject.Kind.VIDEO)
        .order_by("id")
        .values_list("id", flat=True)
    )


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
    content = media_read(submission.media)
    decoded = image_decode(content)
    if not reference_ids_matching(image=decoded.image, reference_ids=reference_ids).matches:
        return None
    analysis = image_analyze(
        content=content,
        input_name=submission_input_name(submission),
        text=submission.text,
        decoded=decoded,
        encode_artifacts=True,
    )
    names = ", ".join(str(ref_id) for ref_id in reference_ids[:5])
    return report_store(
        submission_id=submission_id,
        analysis=analysis,
        expected_status=Submission.Status.ANALYZED,
        reason=f"new verified original (reference {names})",
        event_type=None,  # verdict.changed is emitted by report_store when the label changed
    )
