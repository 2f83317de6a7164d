"""`manage.py evaluate_video CASES_DIR [--json]`."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from factcheck.evaluation.video_case_set import CASES_FILE
from moderation.video_evaluation import evaluate_video


class Command(BaseCommand):
    help = (
        "Evaluate the video analysis on a case set from generate_video_cases: recall@1, offset "
        "error, temporal and spatial IoU of changed spans, false edits and matches, speed. The "
        "references are added inside a transaction that is rolled back (their content-addressed "
        "files stay in media storage)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("case_dir", metavar="CASES_DIR")
        parser.add_argument("--json", action="store_true", help="Print every figure as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        case_dir = Path(options["case_dir"])
        if not (case_dir / CASES_FILE).is_file():
            raise CommandError(f"{case_dir} has no {CASES_FILE}: run generate_video_cases first")
        metrics = evaluate_video(
            case_dir, progress=lambda cases: tqdm(cases, desc="videos", unit="query")
        )
        if options["json"]:
            self.stdout.write(json.dumps(metrics, indent=1))
            return
        for key, value in metrics.items():
            if key != "cases":
                self.stdout.write(f"{key}: {value}")
