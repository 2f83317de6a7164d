import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from factcheck.embedding import EmbeddingUnavailable, configured_embedder, embedding_tag
from factcheck.evaluation.evaluate import (
    CaseDirError,
    evaluate,
    format_table,
    without_layout_guards,
)
from factcheck.evaluation.refcache import CacheDirError
from factcheck.selectors import match_config


class Command(BaseCommand):
    help = (
        "Evaluate fact-check matching and edit localisation on a generated case set "
        "(python manage.py generate_factcheck_cases OUT_DIR --split test)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("case_dir", metavar="CASES_DIR")
        parser.add_argument(
            "--distractors",
            type=int,
            default=None,
            help=(
                "Procedural references added to the index, to measure at a realistic size "
                "(default: the case set's own, 1000 near-duplicate families for --tier hard, "
                "0 for the base tier)."
            ),
        )
        parser.add_argument(
            "--cache",
            metavar="DIR",
            default=None,
            help="Keep each reference's features, PDQ hash and embedding in DIR, so a rerun "
            "against the same references (the tune and test splits share the procedural "
            "distractors) skips computing them; entries are keyed by the pixels and by the "
            "code and settings that compute them.",
        )
        parser.add_argument("--limit", type=int, default=None, help="Only the first N cases.")
        parser.add_argument("--json", action="store_true", help="Print the metrics as JSON.")
        parser.add_argument(
            "--no-embedding",
            action="store_true",
            help="Candidates from PDQ and local features only, without the configured global "
            "embedding (the learned descriptor, or CLIP): for side-by-side comparisons.",
        )
        parser.add_argument(
            "--without-layout-guards",
            action="store_true",
            help="Switch off the guards against another picture of the same layout (a steep "
            "keystone, most of the original's detail changed): for side-by-side comparisons.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["distractors"] is not None and options["distractors"] < 0:
            raise CommandError("--distractors must be 0 or more")

        def progress(cases: list) -> Any:
            return tqdm(cases, desc="cases", unit="query")

        try:
            embedder = None if options["no_embedding"] else configured_embedder()
            metrics = evaluate(
                options["case_dir"],
                distractors=options["distractors"],
                config=without_layout_guards(match_config())
                if options["without_layout_guards"]
                else match_config(),
                limit=options["limit"],
                progress=progress,
                embedder=embedder,
                cache_dir=options["cache"],
            )
        except (CaseDirError, EmbeddingUnavailable) as error:
            raise CommandError(str(error)) from None
        except CacheDirError as error:
            raise CommandError(f"--cache: {error}") from None
        # The space searched, CLIP's included (the core names only embedders with a `tag`).
        metrics["embedding"] = embedding_tag() if embedder is not None else None
        self.stdout.write(json.dumps(metrics) if options["json"] else format_table(metrics))
