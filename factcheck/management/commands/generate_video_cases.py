"""`manage.py generate_video_cases OUT_DIR --split tune|test [--references N]`."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from factcheck.evaluation.video_case_set import generate_video_cases


class Command(BaseCommand):
    help = (
        "Write a video case set: reference videos generated from permitted stills, their copies "
        "(re-encode, trim, downscale, crop, mirror, caption, speed, re-cut), edited copies and "
        "unrelated videos, with the ground truth in cases.json (evaluate with evaluate_video)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", metavar="OUT_DIR")
        parser.add_argument("--split", choices=("tune", "test"), default="tune")
        parser.add_argument("--references", type=int, default=10)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["references"] < 1:
            raise CommandError("--references must be 1 or more")
        meta = generate_video_cases(
            Path(options["out_dir"]), split=options["split"], references=options["references"]
        )
        self.stdout.write(
            f"{meta['references']} references and {len(meta['cases'])} queries "
            f"({meta['split']} split) in {options['out_dir']}"
        )
