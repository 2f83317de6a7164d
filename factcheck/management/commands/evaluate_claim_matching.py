"""Measure claim matching (recall@k of paraphrased claims) with the configured embedding model."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from factcheck.cases.claims import ClaimModelMissing, claim_embedder, evaluate_claim_matching

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "cases" / "eval" / "paraphrased_claims.json"


class Command(BaseCommand):
    help = "Recall@k of paraphrased claims against their case (factcheck/cases/eval/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
        parser.add_argument("-k", type=int, default=3, help="Rank cut-off for recall (default 3).")
        parser.add_argument("--model", default="", help="Model folder (default: the setting).")
        parser.add_argument("--json", action="store_true", help="Print the metrics as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["k"] < 1:
            raise CommandError("-k must be at least 1")
        dataset = _read_dataset(options["dataset"])
        model_path = options["model"] or getattr(settings, "CLAIM_EMBEDDING_MODEL", "") or None
        started = time.perf_counter()
        try:
            embedder = claim_embedder(model_path, device=settings.CLAIM_EMBEDDING_DEVICE)
        except ClaimModelMissing as error:
            raise CommandError(str(error)) from error
        loaded = time.perf_counter()
        metrics = evaluate_claim_matching(dataset, embedder, k=options["k"])
        metrics["load_seconds"] = round(loaded - started, 2)
        metrics["evaluate_seconds"] = round(time.perf_counter() - loaded, 2)
        if options["json"]:
            self.stdout.write(json.dumps(metrics))
            return
        k = options["k"]
        self.stdout.write(
            f"model {metrics['model']}: {metrics['queries']} queries, {metrics['cases']} cases, "
            f"{metrics['distractors']} distractors\n"
            f"recall@1 {metrics['recall_at_1']:.3f}  recall@{k} {metrics[f'recall_at_{k}']:.3f}  "
            f"MRR {metrics['mrr']:.3f}  (load {metrics['load_seconds']} s, "
            f"evaluate {metrics['evaluate_seconds']} s)"
        )
        for miss in metrics["misses"]:
            self.stdout.write(f"  miss {miss['case']} (rank {miss['rank']}): {miss['query']}")


def _read_dataset(path: Path) -> dict[str, Any]:
    try:
        dataset = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"no dataset at {path}") from None
    except (OSError, json.JSONDecodeError) as error:
        raise CommandError(f"cannot read {path}: {error}") from None
    cases = dataset.get("cases") if isinstance(dataset, dict) else None
    valid = (
        isinstance(cases, list)
        and cases
        and all(
            isinstance(case, dict)
            and isinstance(case.get("claim"), str)
            and isinstance(case.get("paraphrases"), list)
            for case in cases
        )
    )
    if not valid:
        raise CommandError(f"{path}: expected {{'cases': [{{'id', 'claim', 'paraphrases'}}]}}")
    return dataset
