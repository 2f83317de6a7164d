"""What a published fact-check shows of its linked submissions: for each, the copy that
circulated, its edits marked (the current report's edit overlay) and the verified original it
was matched to (the current report's best match).

The public fact-check page and its image views read only this, so an image is public exactly
when the page shows it: the views look the asked-for id up among these pictures, and anything
else (another case's submission, an original no shown report matched, a draft case) is not
found. Callers pass published cases only (`factcheck.cases.selectors.published_cases`).
"""

from __future__ import annotations

from dataclasses import dataclass

from factcheck.cases.models import Case
from factcheck.models import Reference
from mediastore.models import MediaObject
from moderation.models import CaseSubmission, Report, ReportArtifact, Submission
from moderation.report_document import matches_of, sensitive_regions_of

# At most this many linked submissions are shown on a public page (the first linked first);
# their duplicates add nothing for a reader.
PUBLIC_PICTURES_SHOWN = 4


@dataclass(frozen=True)
class CasePicture:
    """One linked image submission as a public page shows it."""

    submission: Submission
    report: Report  # the submission's current report
    edit_overlay: ReportArtifact | None  # the copy with its edits tinted and outlined
    original: Reference | None  # the verified original the report matched (an image)

    @property
    def label(self) -> str:
        return self.report.label

    @property
    def explicit(self) -> bool:
        """Whether the analysis found explicit-content regions in the copy."""
        return bool(sensitive_regions_of(self.report.document))


def case_pictures(case: Case) -> list[CasePicture]:
    """The case's linked image submissions that have a current report, first linked first,
    at most PUBLIC_PICTURES_SHOWN (four queries whatever the number)."""
    links = list(
        CaseSubmission.objects.filter(
            case=case, submission__media__kind=MediaObject.Kind.IMAGE
        ).select_related("submission", "submission__media", "submission__client")
    )
    submissions = {link.submission_id: link.submission for link in links}
    reports = {
        report.submission_id: report
        for report in Report.objects.filter(submission_id__in=submissions, is_current=True)
    }
    shown = [submissions[link.submission_id] for link in links if link.submission_id in reports]
    shown = shown[:PUBLIC_PICTURES_SHOWN]
    best = {}
    for submission in shown:
        matches = matches_of(reports[submission.pk].document)
        if matches and matches[0].reference_id is not None:
            best[submission.pk] = matches[0].reference_id
    originals = {
        reference.pk: reference
        for reference in Reference.objects.filter(
            pk__in=set(best.values()), media__kind=MediaObject.Kind.IMAGE
        ).select_related("media")
    }
    overlays = {
        artifact.report_id: artifact
        for artifact in ReportArtifact.objects.filter(
            report__in=[reports[submission.pk] for submission in shown],
            kind=ReportArtifact.Kind.EDIT_OVERLAY,
        )
    }
    pictures = []
    for submission in shown:
        report = reports[submission.pk]
        reference_id = best.get(submission.pk)
        pictures.append(
            CasePicture(
                submission=submission,
                report=report,
                edit_overlay=overlays.get(report.pk),
                original=originals.get(reference_id) if reference_id is not None else None,
            )
        )
    return pictures
