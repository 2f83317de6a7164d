import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from factcheck.core.evalcases import generate_cases


class Command(BaseCommand):
    help = (
        "Write a fact-check evaluation case set (originals, transformed and edited copies with "
        "ground-truth masks, unrelated images). Tune on --split tune, report --split test."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", metavar="OUT_DIR")
        parser.add_argument("--split", choices=["tune", "test"], required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--generated", type=int, default=20, help="Procedural images to add.")
        parser.add_argument(
            "--extra-unrelated",
            type=int,
            default=0,
            help="Procedural images added as unrelated queries only (never indexed).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out_dir"])
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} is not empty; choose a new directory")
        if options["extra_unrelated"] < 0:
            raise CommandError("--extra-unrelated must be 0 or more")
        meta = generate_cases(
            out,
            split=options["split"],
            seed=options["seed"],
            generated=options["generated"],
            extra_unrelated=options["extra_unrelated"],
        )
        self.stdout.write(json.dumps(meta))
