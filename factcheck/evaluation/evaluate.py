"""Evaluate fact-check matching and edit localisation on a generated case directory.

    python -m factcheck.evaluation.evaluate CASE_DIR [--distractors 1000] [--json]

Indexes CASE_DIR/originals, CASE_DIR/distractors (the hard tier's near-duplicates of the
originals) and procedural distractor references (so latency is measured against a realistic
index size, and near-duplicates compete; the hard tier's default is its meta's
`default_distractors`, of evaldistractors.hard_distractor), runs `match_image` on
every query of queries/cases.jsonl and reports recall@1 (copies, edited copies), false-match
rate (unrelated), false-edit rate (unedited copies found), mask IoU / pixel F1 (edited copies
found), region-kind accuracy and latency percentiles; the same per failure class
(`per_class`, `per_combination`, factcheck.evaluation.evalhard) and per tier (`per_tier`).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from factcheck.core.descriptor import DEFAULT_CONFIG_PATH, Descriptor
from factcheck.core.features import Features, extract_features
from factcheck.core.index import ClipIndex, FloatIndexConfig, PdqIndex
from factcheck.core.local_index import LocalIndex
from factcheck.core.matcher import Embedder, MatchConfig, MatchResult, match_image
from factcheck.evaluation.evaldistractors import hard_distractor
from factcheck.evaluation.evaledits import EXPECTED_REGION_KIND
from factcheck.evaluation.evalhard import HARD_CLASSES
from factcheck.evaluation.evalsources import generated_image
from factcheck.evaluation.refcache import (
    ReferenceCache,
    ReferenceEntry,
    compute_entry,
    picture_key,
)

DISTRACTOR_ID_OFFSET = 1_000_000
FOLDER_DISTRACTOR_ID_OFFSET = 2_000_000
REFERENCE_SUFFIXES = (".png", ".jpg")
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
        loaded: np.ndarray = image() if callable(image) else image
        return loaded

    def add(self, ref_id: int, image: Any, features: Features | None = None) -> None:
        """`image`: an array or a zero-arg loader (a procedural reference is regenerated when
        verification needs its pixels rather than kept in memory)."""
        self.images[ref_id] = image
        if features is not None:
            self._features[ref_id] = features

    def load_reference_features(self, ref_id: int) -> Features:
        if ref_id not in self._features:
            self._features[ref_id] = extract_features(
                self.load_reference_image(ref_id), self.config.features
            )
        return self._features[ref_id]


def read_meta(case_dir: Path) -> dict[str, Any]:
    """The case set's meta.json ({} when absent; a case set without `tier` is the base tier)."""
    path = case_dir / "meta.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@dataclass
class Indexes:
    pdq: PdqIndex
    local: LocalIndex
    embedding: ClipIndex | None = None
    embedder: Embedder | None = None


EMBED_BATCH = 32


def build_references(
    case_dir: Path,
    distractors: int,
    config: MatchConfig,
    tier: str = "base",
    embedder: Embedder | None = None,
    cache: ReferenceCache | None = None,
) -> tuple[InMemoryReferences, Indexes, dict[int, str]]:
    """Index the originals, the case set's own distractors and `distractors` procedural ones
    (the base tier's generated_image, or the hard tier's near-duplicate families); with an
    embedder, their global embeddings too. `cache`: what each picture costs, kept across runs."""
    references = InMemoryReferences(config=config)
    names: dict[int, str] = {}
    entries: dict[int, ReferenceEntry] = {}
    pending: list[tuple[str, np.ndarray, ReferenceEntry]] = []

    def flush() -> None:
        if embedder is not None and pending:
            vectors = embedder.embed([image for _, image, _ in pending])
            for (_, _, entry), vector in zip(pending, vectors, strict=True):
                entry.embedding = vector
        if cache is not None:
            for key, _, entry in pending:
                cache.put(key, entry)
        pending.clear()

    def features_of(ref_id: int, image: np.ndarray) -> Features:
        key = picture_key(image) if cache is not None else ""
        entry = cache.get(key) if cache is not None else None
        if entry is None:
            entry = compute_entry(image, config.features)
            pending.append((key, image, entry))
            if len(pending) == EMBED_BATCH:
                flush()
        entries[ref_id] = entry
        return entry.features

    folders = [("originals", 0), ("distractors", FOLDER_DISTRACTOR_ID_OFFSET)]
    for folder, offset in folders:
        paths = sorted(
            p for p in (case_dir / folder).glob("*") if p.suffix.lower() in REFERENCE_SUFFIXES
        )
        if folder == "originals":
            paths = [p for p in paths if p.suffix == ".png"]
        for number, path in enumerate(paths):
            ref_id = offset + number
            image = read_rgb(path)
            # Features warm like a deployed system's cache.
            references.add(ref_id, image, features_of(ref_id, image))
            names[ref_id] = f"{folder}/{path.name}"
    make = hard_distractor if tier == "hard" else _base_distractor
    for offset in range(distractors):
        ref_id = DISTRACTOR_ID_OFFSET + offset
        # Regenerated when verification needs its pixels rather than kept in memory.
        references.add(ref_id, lambda o=offset: make(o), features_of(ref_id, make(offset)))
    flush()
    ids = np.array(list(entries))
    indexes = Indexes(
        pdq=PdqIndex.build(np.stack([entry.pdq_bits for entry in entries.values()]), ids),
        local=LocalIndex.build({ref_id: entry.features for ref_id, entry in entries.items()}),
    )
    if embedder is not None:
        vectors = [entry.embedding for entry in entries.values() if entry.embedding is not None]
        indexes.embedding = ClipIndex.build(
            np.stack(vectors), ids, FloatIndexConfig(dim=embedder.dim)
        )
        indexes.embedder = embedder
    return references, indexes, names


def _base_distractor(offset: int) -> np.ndarray:
    return generated_image(DISTRACTOR_SEED + offset)


def mask_scores(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    predicted, truth = predicted > 0, truth > 0
    union = (predicted | truth).sum()
    intersection = (predicted & truth).sum()
    iou = float(intersection / union) if union else 1.0
    denominator = predicted.sum() + truth.sum()
    f1 = float(2 * intersection / denominator) if denominator else 1.0
    return iou, f1


class CaseDirError(ValueError):
    """The directory is not a generated case set (see factcheck.evaluation.evalcases)."""


def read_cases(case_dir: str | Path) -> list[dict[str, Any]]:
    """The cases of a generated case directory; CaseDirError says what is missing."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise CaseDirError(f"no such directory: {case_dir}")
    cases_file = case_dir / "queries" / "cases.jsonl"
    if not cases_file.is_file() or not any((case_dir / "originals").glob("*.png")):
        raise CaseDirError(
            f"{case_dir} has no originals/*.png and queries/cases.jsonl; generate a case set "
            "with: python -m factcheck.evaluation.evalcases OUT_DIR --split test"
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
    distractors: int | None = None,
    config: MatchConfig | None = None,
    limit: int | None = None,
    progress: Callable[[list[dict[str, Any]]], Iterable[dict[str, Any]]] | None = None,
    embedder: Embedder | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Metrics over the case set; `progress` wraps the case list (e.g. tqdm) if given.
    `distractors` None: the case set's default (meta `default_distractors`, else 0).
    `embedder`: a global embedding (the learned descriptor) for candidates, else none.
    `cache_dir`: keep each reference's features there across runs (refcache)."""
    case_dir = Path(case_dir)
    config = config or MatchConfig()
    cases = read_cases(case_dir)[:limit]
    meta = read_meta(case_dir)
    tier = meta.get("tier", "base")
    if distractors is None:
        distractors = int(meta.get("default_distractors", 0))
    cache = None if cache_dir is None else ReferenceCache(cache_dir, config.features, embedder)
    references, index, names = build_references(
        case_dir, distractors, config, tier, embedder, cache
    )
    outcomes = [
        _evaluate_case(case_dir, case, references, index, names, config)
        for case in (progress(cases) if progress else cases)
    ]
    metrics = summarise(outcomes)
    metrics["references"] = len(names) + distractors
    metrics["tier"] = tier
    metrics["procedural_distractors"] = distractors
    metrics["case_distractors"] = sum(name.startswith("distractors/") for name in names.values())
    metrics["embedding"] = getattr(embedder, "tag", None) if embedder is not None else None
    return metrics


def match_indexed(
    image: np.ndarray, references: InMemoryReferences, index: Indexes, config: MatchConfig
) -> MatchResult:
    """`match_image` against what `build_references` built."""
    return match_image(
        image,
        references=references,
        pdq_index=index.pdq,
        local_index=index.local,
        embedding_index=index.embedding,
        embedder=index.embedder,
        config=config,
    )


def _evaluate_case(
    case_dir: Path,
    case: dict[str, Any],
    references: InMemoryReferences,
    index: Indexes,
    names: dict[int, str],
    config: MatchConfig,
) -> dict[str, Any]:
    image = read_rgb(case_dir / case["query"])
    result = match_indexed(image, references, index, config)
    top = result.matches[0] if result.matches else None
    top_name = names.get(top.reference_id, "procedural distractor") if top else None
    found = top is not None and top_name == case["expected"]
    candidate_names = [names.get(c.reference_id) for c in result.candidates]
    outcome = {
        "group": case["group"],
        "edit": case["edit"],
        "transforms": case["transforms"],
        "query": case["query"],
        "tier": case.get("tier", "base"),
        # Base-tier cases carry no class: their group is their class.
        "classes": case.get("classes", [case["group"]]),
        "class_combination": case.get("class_combination", case["group"]),
        "pair": case.get("pair"),
        "top": top_name,
        "matched": top is not None,
        "found": found,
        "found_pair": top is not None and case.get("pair") is not None and top_name == case["pair"],
        "expected_candidate": case["expected"] in candidate_names,
        "edited": bool(top and top.edited),
        "latency_ms": result.timings_ms["total"],
        "stage_ms": {stage: result.timings_ms[stage] for stage in STAGES},
        "candidates": len(result.candidates),
        "mirrored": bool(top and top.mirrored),
        "verified_by": top.verified_by if top else None,
        "near_misses": [names.get(miss.reference_id) for miss in result.near_misses],
        "expected_rejected_as": next(
            (m.reason for m in result.near_misses if names.get(m.reference_id) == case["expected"]),
            None,
        ),
        "long_side": int(max(image.shape[:2])),
        "detail_changed": top.detail_changed if found and top is not None else None,
    }
    if found and top is not None and case["mask"]:
        truth = cv2.imread(str(case_dir / case["mask"]), cv2.IMREAD_GRAYSCALE)
        if truth is None:
            raise CaseDirError(f"cannot read the mask {case['mask']}")
        outcome["iou"], outcome["f1"] = mask_scores(top.edit_mask, truth)
        if top.regions:
            outcome["kind_correct"] = top.regions[0]["kind"] == EXPECTED_REGION_KIND[case["edit"]]
    return outcome


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p99": None, "max": None}
    return {"p99": round(float(np.percentile(values, 99)), 3), "max": round(max(values), 3)}


def without_layout_guards(config: MatchConfig) -> MatchConfig:
    """`config` with the guards against another picture of the same layout switched off (a
    steep keystone in verification, most of the original's detail changed after localisation),
    for side-by-side measurements."""
    return replace(
        config,
        max_detail_changed=float("inf"),
        verify=replace(config.verify, max_keystone=float("inf")),
    )


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def class_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure over one class (or tier) of outcomes. `recall_at_any_of_pair`: the query's
    original or the other indexed version of its design ranked first (near-identical pairs
    only); `candidate_recall`: the original was among the candidates, so a miss with it there
    is the verification's; `wrong_matches`: copies matched to another reference."""
    expected = [o for o in rows if o["group"] != "unrelated"]
    unrelated = [o for o in rows if o["group"] == "unrelated"]
    found = [o for o in expected if o["found"]]
    found_edited = [o for o in found if o["group"] == "edited"]
    paired = [o for o in expected if o["pair"]]
    latencies = [o["latency_ms"] for o in rows]
    return {
        "queries": len(rows),
        "recall_at_1": _mean([o["found"] for o in expected]),
        "recall_at_any_of_pair": _mean([o["found"] or o["found_pair"] for o in paired]),
        "candidate_recall": _mean([o["expected_candidate"] for o in expected]),
        "wrong_matches": sum(
            o["matched"] and not (o["found"] or o["found_pair"]) for o in expected
        ),
        "false_matches": sum(o["matched"] for o in unrelated),
        "false_match_rate": _mean([o["matched"] for o in unrelated]),
        "false_edit_rate": _mean([o["edited"] for o in found if o["group"] == "copy"]),
        "edit_detection_rate": _mean([o["edited"] for o in found_edited]),
        "mean_iou": _mean([o["iou"] for o in found_edited if "iou" in o]),
        "latency_ms_p50": _percentile(latencies, 50),
        "latency_ms_p95": _percentile(latencies, 95),
    }


def _class_order(name: str) -> tuple[int, str]:
    return (HARD_CLASSES.index(name) if name in HARD_CLASSES else len(HARD_CLASSES), name)


def per_class(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Figures per failure class; a query counts in every class it belongs to."""
    names = sorted({c for o in outcomes for c in o["classes"]}, key=_class_order)
    return {name: class_figures([o for o in outcomes if name in o["classes"]]) for name in names}


def per_combination(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names = sorted({o["class_combination"] for o in outcomes})
    return {
        name: class_figures([o for o in outcomes if o["class_combination"] == name])
        for name in names
    }


def per_tier(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    tiers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for outcome in outcomes:
        tiers[outcome["tier"]].append(outcome)
    return {
        tier: {
            **class_figures(rows),
            "recall_at_1_copies": _mean([o["found"] for o in rows if o["group"] == "copy"]),
            "recall_at_1_edited": _mean([o["found"] for o in rows if o["group"] == "edited"]),
        }
        for tier, rows in sorted(tiers.items())
    }


def failure_details(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each miss, false match and false edit looked like: the query, its classes, what
    ranked first instead and whether the original was a candidate at all."""
    return [
        {
            "query": o["query"],
            "class": o["class_combination"],
            "top": o["top"],
            "expected_candidate": o["expected_candidate"],
            "expected_rejected_as": o.get("expected_rejected_as"),
            "edited": o["edited"],
        }
        for o in outcomes
        if (o["group"] == "unrelated" and o["matched"])
        or (o["group"] != "unrelated" and not o["found"])
        or (o["group"] == "copy" and o["found"] and o["edited"])
    ]


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
        # How much of the original's detail the true matches changed: what
        # MatchConfig.max_detail_changed must stay clear of.
        "detail_changed_of_true_matches": {
            name: _spread([o["detail_changed"] for o in rows if o["detail_changed"] is not None])
            for name, rows in (("copies", found_copies), ("edited", found_edited))
        },
        "per_edit_kind": per_kind,
        "per_transform": per_transform,
        "per_class": per_class(outcomes),
        "per_combination": per_combination(outcomes),
        "per_tier": per_tier(outcomes),
        "failure_details": failure_details(outcomes),
        "failures": [o["query"] for o in copies + edited if not o["found"]]
        + [o["query"] for o in unrelated if o["matched"]]
        + [o["query"] for o in found_copies if o["edited"]],
    }


TABLE_FIGURES = (
    ("queries", "n"),
    ("recall_at_1", "r@1"),
    ("recall_at_any_of_pair", "r@pair"),
    ("candidate_recall", "cand"),
    ("wrong_matches", "wrong"),
    ("false_matches", "fm"),
    ("false_edit_rate", "fedit"),
    ("mean_iou", "iou"),
    ("latency_ms_p50", "p50ms"),
    ("latency_ms_p95", "p95ms"),
)


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
    for section in ("per_tier", "per_class", "per_combination"):
        entries = metrics.get(section, {})
        if not entries:
            continue
        name_width = max(len(name) for name in entries)
        lines.append(
            f"{section:<{name_width}} " + " ".join(f"{label:>7}" for _, label in TABLE_FIGURES)
        )
        for name, figures in entries.items():
            cells = ["-" if figures[key] is None else str(figures[key]) for key, _ in TABLE_FIGURES]
            lines.append(f"{name:<{name_width}} " + " ".join(f"{cell:>7}" for cell in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate fact-check matching on a case dir.")
    parser.add_argument("case_dir")
    parser.add_argument("--distractors", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cache", default=None, help="keep reference features here (refcache)")
    parser.add_argument(
        "--descriptor",
        default=str(DEFAULT_CONFIG_PATH),
        help="learned descriptor config for candidates; '' for none (PDQ and local only)",
    )
    args = parser.parse_args(argv)
    embedder = Descriptor.load(args.descriptor) if args.descriptor else None
    metrics = evaluate(
        args.case_dir,
        distractors=args.distractors,
        limit=args.limit,
        embedder=embedder,
        cache_dir=args.cache,
    )
    print(json.dumps(metrics) if args.json else format_table(metrics))


if __name__ == "__main__":
    main()
