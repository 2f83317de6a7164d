"""python manage.py export_decisions OUT_DIR [--since DATE]: reviewed image submissions as a
labelled folder (OUT_DIR/real, OUT_DIR/fake) for calibrate_detectors / evaluate_detector --data.

Each submission is labelled by its latest decision that was not undone, by the rule of
moderation.selectors.decision_image_label; decisions that say nothing clear about the pixels are
skipped and counted. No masks: moderators judge images, not pixels."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from detection.evaluation.labelled_folder import FAKE_DIR, REAL_DIR
from mediastore.images import FORMAT_EXTENSIONS
from mediastore.services import media_read
from moderation.selectors import MANIPULATED, decision_image_labels

FOLDER_OF = {MANIPULATED: FAKE_DIR}


def _since(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since must be a date like 2026-12-01, got {value!r}") from None
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class Command(BaseCommand):
    help = (
        "Export reviewed image submissions as a labelled folder (real/, fake/) by their latest "
        "decision that was not undone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
        parser.add_argument(
            "--since", metavar="DATE", help="only decisions made on or after this date (UTC)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out_dir: Path = options["out_dir"]
        if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
            raise CommandError(f"{out_dir} exists and is not an empty folder")
        since = _since(options["since"]) if options["since"] else None
        labelled, skipped = decision_image_labels(since=since)
        for folder in (REAL_DIR, FAKE_DIR):
            (out_dir / folder).mkdir(parents=True, exist_ok=True)
        written: Counter[str] = Counter()
        for found in tqdm(labelled, desc="export", unit="image", disable=len(labelled) < 2):
            submission = found.decision.item.submission
            folder = FOLDER_OF.get(found.label, REAL_DIR)
            extension = FORMAT_EXTENSIONS.get(submission.media.format, "bin")
            target = out_dir / folder / f"submission-{submission.pk}.{extension}"
            target.write_bytes(media_read(submission.media))
            written[folder] += 1
        reasons = Counter(
            f"{d.action} {d.label}".strip() if d.label else str(d.action) for d in skipped
        )
        self.stdout.write(
            f"exported {written[REAL_DIR]} real and {written[FAKE_DIR]} fake images to {out_dir}"
            + (
                "; skipped as saying nothing clear about the pixels: "
                + ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
                if reasons
                else ""
            )
        )
