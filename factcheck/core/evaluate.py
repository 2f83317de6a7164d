"""Evaluate fact-check matching and edit localisation on a generated case directory.

    python -m factcheck.core.evaluate CASE_DIR [--distractors 1000] [--json]

Indexes CASE_DIR/originals (plus optional procedural distractor references, so latency is
measured against a realistic index size), runs `match_image` on every query of
queries/cases.jsonl and reports recall@1 (copies, edited copies), false-match rate (unrelated),
false-edit rate (unedited copies found), mask IoU / pixel F1 (edited copies found), region-kind
accuracy and latency percentiles.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from factcheck.core.evaledits import EXPECTED_REGION_KIND
from factcheck.core.evalsources import generated_image
from factcheck.core.features import Features, extract_features
from factcheck.core.fingerprints import pdq_hash
from factcheck.core.index import PdqIndex
from factcheck.core.local_index import LocalIndex
from factcheck.core.matcher import MatchConfig, match_image

DISTRACTOR_ID_OFFSET = 1_000_000
STAGES = ("candidates", "verify", "localize")
LARGE_QUERY_SIDE = 1000  # "1024-px" queries: long side of at least this many pixels
DISTRACTOR_SEED = 987_654


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass
class InMemoryReferences:
    """ReferenceSource over in-memory images; features are computed lazily and cached, as the
    Django layer caches them in storage."""

    images: dict[int, Any] = field(default_factory=dict)  # id -> array or zero-arg loader
    config: MatchConfig = field(default_factory=MatchConfig)
    _features: dict[int, Features] = field(default_factory=dict)

    def load_reference_image(self, ref_id: int) -> np.ndarray:
        image = self.images[ref_id]
        return image() if callable(image) else image

    def load_reference_features(self, ref_id: int) -> Features:
        if ref_id not in self._features:
            self._features[ref_id] = extract_features(
                self.load_reference_image(ref_id), self.config.features
            )
        return self._features[ref_id]


def build_references(case_dir: Path, distractors: int, config: MatchConfig):
    references = InMemoryReferences(config=config)
    names: dict[int, str] = {}
    hashes, ids = [], []
    for ref_id, path in enumerate(sorted((case_dir / "originals").glob("*.png"))):
        image = read_rgb(path)
        references.images[ref_id] = image
        names[ref_id] = f"originals/{path.name}"
        hashes.append(pdq_hash(image).bits)
        ids.append(ref_id)
        references.load_reference_features(ref_id)  # warm the cache like a deployed system
    for offset in range(distractors):
        ref_id = DISTRACTOR_ID_OFFSET + offset
        seed = DISTRACTOR_SEED + offset
        hashes.append(pdq_hash(generated_image(seed)).bits)
        references.images[ref_id] = lambda s=seed: generated_image(s)
        ids.append(ref_id)
    pdq_index = PdqIndex.build(np.stack(hashes), np.array(ids))
    local_index = LocalIndex.build(
        {ref_id: references.load_reference_features(ref_id) for ref_id in ids}
    )
    return references, (pdq_index, local_index), names


def _mask_scores(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    predicted, truth = predicted > 0, truth > 0
    union = (predicted | truth).sum()
    intersection = (predicted & truth).sum()
    iou = float(intersection / union) if union else 1.0
    denominator = predicted.sum() + truth.sum()
    f1 = float(2 * intersection / denominator) if denominator else 1.0
    return iou, f1


class CaseDirError(ValueError):
    """The directory is not a generated case set (see factcheck.core.evalcases)."""


def read_cases(case_dir: str | Path) -> list[dict[str, Any]]:
    """The cases of a generated case directory; CaseDirError says what is missing."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise CaseDirError(f"no such directory: {case_dir}")
    cases_file = case_dir / "queries" / "cases.jsonl"
    if not cases_file.is_file() or not any((case_dir / "originals").glob("*.png")):
        raise CaseDirError(
            f"{case_dir} has no originals/*.png and queries/cases.jsonl; generate a case set "
            "with: python -m factcheck.core.evalcases OUT_DIR --split test"
        )
    try:
        cases = [json.loads(line) for line in cases_file.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise CaseDirError(f"{cases_file} is not JSON Lines: {error}") from None
    if not cases:
        raise CaseDirError(f"{cases_file} holds no cases")
    return cases


def evaluate(
    case_dir: str | Path,
    *,
    distractors: int = 0,
    config: MatchConfig | None = None,
    limit: int | None = None,
    progress: Callable[[list[dict[str, Any]]], Iterable[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Metrics over the case set; `progress` wraps the case list (e.g. tqdm) if given."""
    case_dir = Path(case_dir)
    config = config or MatchConfig()
    cases = read_cases(case_dir)[:limit]
    references, index, names = build_references(case_dir, distractors, config)
    outcomes = [
        _evaluate_case(case_dir, case, references, index, names, config)
        for case in (progress(cases) if progress else cases)
    ]
    metrics = summarise(outcomes)
    metrics["references"] = len(names) + distractors
    return metrics


def _evaluate_case(case_dir, case, references, index, names, config) -> dict[str, Any]:
    image = read_rgb(case_dir / case["query"])
    pdq_index, local_index = index
    result = match_image(
        image, references=references, pdq_index=pdq_index, local_index=local_index, config=config
    )
    top = result.matches[0] if result.matches else None
    found = top is not None and names.get(top.reference_id) == case["expected"]
    outcome = {
        "group": case["group"],
        "edit": case["edit"],
        "transforms": case["transforms"],
        "query": case["query"],
        "matched": top is not None,
        "found": found,
        "edited": bool(top and top.edited),
        "latency_ms": result.timings_ms["total"],
        "stage_ms": {stage: result.timings_ms[stage] for stage in STAGES},
        "candidates": len(result.candidates),
        "long_side": int(max(image.shape[:2])),
    }
    if found and case["mask"]:
        truth = cv2.imread(str(case_dir / case["mask"]), cv2.IMREAD_GRAYSCALE)
        outcome["iou"], outcome["f1"] = _mask_scores(top.edit_mask, truth)
        if top.regions:
            outcome["kind_correct"] = top.regions[0]["kind"] == EXPECTED_REGION_KIND[case["edit"]]
    return outcome


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def summarise(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for outcome in outcomes:
        by_group[outcome["group"]].append(outcome)
    copies, edited, unrelated = by_group["copy"], by_group["edited"], by_group["unrelated"]
    found_copies = [o for o in copies if o["found"]]
    found_edited = [o for o in edited if o["found"]]
    latencies = [o["latency_ms"] for o in outcomes]
    large = [o["latency_ms"] for o in outcomes if o["long_side"] >= LARGE_QUERY_SIDE]
    per_kind = {}
    for kind in sorted({o["edit"] for o in edited}):
        rows = [o for o in found_edited if o["edit"] == kind]
        per_kind[kind] = {
            "iou": _mean([o["iou"] for o in rows]),
            "detected": _mean([o["edited"] for o in rows]),
            "kind_accuracy": _mean([o["kind_correct"] for o in rows if "kind_correct" in o]),
        }
    per_transform = {}
    for name in sorted({t for o in copies for t in o["transforms"]}):
        rows = [o for o in copies if name in o["transforms"]]
        per_transform[name] = {
            "recall_at_1": _mean([o["found"] for o in rows]),
            "false_edit": _mean([o["edited"] for o in rows if o["found"]]),
        }
    return {
        "queries": len(outcomes),
        "recall_at_1_copies": _mean([o["found"] for o in copies]),
        "recall_at_1_edited": _mean([o["found"] for o in edited]),
        "false_match_rate_unrelated": _mean([o["matched"] for o in unrelated]),
        "false_matches_unrelated": sum(o["matched"] for o in unrelated),
        "unrelated_queries": len(unrelated),
        "false_edit_rate_copies": _mean([o["edited"] for o in found_copies]),
        "edit_detection_rate": _mean([o["edited"] for o in found_edited]),
        "mean_iou": _mean([o["iou"] for o in found_edited]),
        "mean_pixel_f1": _mean([o["f1"] for o in found_edited]),
        "region_kind_accuracy": _mean(
            [o["kind_correct"] for o in found_edited if "kind_correct" in o]
        ),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
        "latency_ms_p50_by_stage": {
            stage: round(float(np.median([o["stage_ms"][stage] for o in outcomes])), 1)
            for stage in STAGES
        }
        if outcomes
        else {},
        "candidates_per_query_mean": _mean([o["candidates"] for o in outcomes]),
        # The latency target is stated for ~1024-px queries; most resized/cropped copies are
        # smaller, so report the large ones on their own.
        "large_queries": len(large),
        "latency_ms_p50_large_queries": (
            round(float(np.percentile(large, 50)), 1) if large else None
        ),
        "latency_ms_p95_large_queries": (
            round(float(np.percentile(large, 95)), 1) if large else None
        ),
        "per_edit_kind": per_kind,
        "per_transform": per_transform,
        "failures": [o["query"] for o in copies + edited if not o["found"]]
        + [o["query"] for o in unrelated if o["matched"]]
        + [o["query"] for o in found_copies if o["edited"]],
    }


def format_table(metrics: dict[str, Any]) -> str:
    rows = [(key, value) for key, value in metrics.items() if not isinstance(value, (dict, list))]
    width = max(len(key) for key, _ in rows)
    lines = [f"{key:<{width}}  {value}" for key, value in rows]
    for section in ("latency_ms_p50_by_stage",):
        lines.append(f"{section}  " + "  ".join(f"{k}={v}" for k, v in metrics[section].items()))
    for section in ("per_edit_kind", "per_transform"):
        for name, values in metrics[section].items():
            lines.append(
                f"{section}.{name:<12} " + "  ".join(f"{k}={v}" for k, v in values.items())
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate fact-check matching on a case dir.")
    parser.add_argument("case_dir")
    parser.add_argument("--distractors", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    metrics = evaluate(args.case_dir, distractors=args.distractors, limit=args.limit)
    print(json.dumps(metrics) if args.json else format_table(metrics))


if __name__ == "__main__":
    main()
