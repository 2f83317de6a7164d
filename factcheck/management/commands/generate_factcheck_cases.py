import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from factcheck.evaluation.evalcases import generate_cases
from factcheck.evaluation.evalhard import DEFAULT_GENERATED_LOW, generate_hard_cases


class Command(BaseCommand):
    help = (
        "Write a fact-check evaluation case set (originals, transformed and edited copies with "
        "ground-truth masks, unrelated images). Tune on --split tune, report --split test. "
        "--tier hard: the failure classes of issue 15 (low-texture originals, mirrored, cropped "
        "and heavily recompressed reposts, near-identical originals; "
        "factcheck.evaluation.evalhard)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", metavar="OUT_DIR")
        parser.add_argument("--split", choices=["tune", "test"], required=True)
        parser.add_argument(
            "--tier",
            choices=["base", "hard"],
            default="base",
            help="base: the original case set (unchanged); hard: the failure classes.",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--generated", type=int, default=20, help="Procedural images to add.")
        parser.add_argument(
            "--extra-unrelated",
            type=int,
            default=0,
            help="Procedural images added as unrelated queries only (never indexed).",
        )
        parser.add_argument(
            "--generated-low",
            type=int,
            default=None,
            help=f"Hard tier: procedural low-texture sources (default {DEFAULT_GENERATED_LOW}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out_dir"])
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} is not empty; choose a new directory")
        if options["extra_unrelated"] < 0:
            raise CommandError("--extra-unrelated must be 0 or more")
        generated_low = options["generated_low"]
        if options["tier"] == "base" and generated_low is not None:
            raise CommandError("--generated-low applies to --tier hard only")
        if generated_low is not None and generated_low < 0:
            raise CommandError("--generated-low must be 0 or more")
        if options["tier"] == "hard":
            meta = generate_hard_cases(
                out,
                split=options["split"],
                seed=options["seed"],
                generated=options["generated"],
                generated_low=DEFAULT_GENERATED_LOW if generated_low is None else generated_low,
                extra_unrelated=options["extra_unrelated"],
            )
            self.stdout.write(json.dumps(meta))
            return
        meta = generate_cases(
            out,
            split=options["split"],
            seed=options["seed"],
            generated=options["generated"],
            extra_unrelated=options["extra_unrelated"],
        )
        self.stdout.write(json.dumps(meta))
