"""`manage.py reanalyze ID... | --failed | --since DATE`: queue submissions for a new analysis."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from moderation.models import Submission
from moderation.services import SubmissionError, submission_reanalyze, submission_retry


def _date(value: str) -> datetime.datetime:
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since expects a date like 2026-01-31, got {value!r}") from None
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class Command(BaseCommand):
    help = "Analyse chosen submissions again; each gets a new report version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, metavar="ID")
        parser.add_argument("--failed", action="store_true", help="Every failed submission.")
        parser.add_argument("--since", help="Every submission received on or after DATE.")

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = [bool(options["ids"]), options["failed"], bool(options["since"])]
        if sum(chosen) != 1:
            raise CommandError("give submission IDs, or --failed, or --since DATE (one of them)")
        if options["ids"]:
            submissions = list(Submission.objects.filter(pk__in=options["ids"]).order_by("id"))
            missing = sorted(set(options["ids"]) - {s.pk for s in submissions})
            if missing:
                raise CommandError(f"no such submission: {', '.join(map(str, missing))}")
        elif options["failed"]:
            submissions = list(Submission.objects.filter(status=Submission.Status.FAILED))
        else:
            since = _date(options["since"])
            submissions = list(Submission.objects.filter(created_at__gte=since).order_by("id"))
        queued, skipped = 0, []
        for submission in submissions:
            try:
                if submission.status == Submission.Status.FAILED:
                    submission_retry(submission=submission)
                else:
                    submission_reanalyze(submission=submission, reason="reanalyze command")
                queued += 1
            except SubmissionError as error:
                skipped.append(f"submission {submission.pk}: {error}")
        for line in skipped:
            self.stderr.write(f"skipped {line}")
        self.stdout.write(f"{queued} queued, {len(skipped)} skipped")
