"""Near misses: candidate originals that retrieval found and verification rejected (report/1
`near_misses`, best first), and reviewers' judgements of them.

A near miss is a lead, not evidence: the verdict ignores it. A reviewer may confirm one ("this is
the original") or dismiss it ("not the original"); one judgement per submission and reference,
a later one replaces it and the audit log keeps them all. The report's `near_misses` are read
by moderation.report_document (defensively: documents older than the key have none).
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from accounts.services import audit_record
from moderation.models import NearMissJudgement, ReviewItem, Submission
from moderation.report_document import NearMiss, near_misses_of
from moderation.review import ReviewError, require_reviewer
from moderation.selectors import items_visible

SNAPSHOT_LENGTH = 200  # NearMissJudgement.external_id and .source


class NearMissError(ReviewError):
    """A judgement refused: unknown judgement, or a reference that is not a near miss of the
    item's reports (views answer 400)."""


def near_miss_find(*, submission: Submission, reference_id: int) -> tuple[int, NearMiss] | None:
    """(version, entry) of the newest report version listing the reference as a near miss."""
    for report in submission.reports.order_by("-version").only("version", "document"):
        for entry in near_misses_of(report.document):
            if entry.reference_id == reference_id:
                return report.version, entry
    return None


def near_miss_judgements(*, submission: Submission) -> dict[int, NearMissJudgement]:
    """The submission's judgements by reference id, with their actors."""
    return {
        judgement.reference_id: judgement
        for judgement in NearMissJudgement.objects.filter(submission=submission).select_related(
            "actor"
        )
    }


@transaction.atomic
def near_miss_judge(
    *, item: ReviewItem, reference_id: int, judgement: str, actor: User
) -> NearMissJudgement:
    """Record that a near miss of the item's reports is (confirmed) or is not (dismissed) its
    original; a second judgement of the same reference replaces the first. Needs the right to
    review (as deciding does; no claim: it judges evidence, not the content) and an item in the
    actor's scope. Audited in the same transaction."""
    require_reviewer(actor)
    if judgement not in NearMissJudgement.Judgement.values:
        raise NearMissError(f"Unknown judgement {judgement!r}.")
    if not items_visible(user=actor).filter(pk=item.pk).exists():
        raise NearMissError("This item is not in your queue.")
    found = near_miss_find(submission=item.submission, reference_id=reference_id)
    if found is None:
        raise NearMissError("This original is not a near miss of the item's reports.")
    report_version, entry = found
    reference = entry.reference
    values = {
        "judgement": judgement,
        "actor": actor,
        "report_version": report_version,
        "external_id": str(reference.get("external_id") or "")[:SNAPSHOT_LENGTH],
        "source": str(reference.get("source") or "")[:SNAPSHOT_LENGTH],
    }
    # The row lock makes this a compare-and-set: two reviewers judging at once are applied one
    # after the other, and each audit entry names the judgement it replaced.
    row, created = NearMissJudgement.objects.select_for_update().get_or_create(
        submission=item.submission, reference_id=reference_id, defaults=values
    )
    previous = None if created else row.judgement
    if not created:
        for name, value in values.items():
            setattr(row, name, value)
        row.save(update_fields=[*values, "updated_at"])
    audit_record(
        actor=actor,
        action=f"near_miss.{judgement}",
        target=row,
        data={
            "item": item.pk,
            "submission": item.submission_id,
            "reference": reference_id,
            "external_id": row.external_id,
            "report_version": report_version,
            "previous": previous,
        },
    )
    return row
