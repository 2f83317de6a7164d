"""Evaluating the whole video analysis on a generated case set (`manage.py evaluate_video`).

The case set's references are added with `reference_add` and its queries analysed with
`video_pipeline.video_analyze`, exactly as the `video` task runs them, inside one transaction
that is rolled back at the end: nothing is kept in the database. Matching searches the published
indexes, and references that are never committed are never published by the index update their
commit would enqueue: the evaluation publishes them itself (`index_rebuild`, inside the
transaction) in a temporary index folder, deleted with it. Figures (issue 17's targets):
- recall@1: the best match is the query's reference, per copy kind and overall;
- offset error: |reported offset_s - true| for correct matches (median, p95);
- temporal IoU of the changed span, and spatial IoU of the changed box in the span, on edited
  copies; false edits: unedited copies reported with a changed span;
- false matches on unrelated videos;
- speed: analysis seconds per second of video.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from django.db import transaction
from django.test import override_settings

from detection.core.faces import box_iou
from factcheck.evaluation.video_case_set import CASES_FILE
from factcheck.indexing import index_rebuild
from factcheck.services import reference_add
from moderation import report_document as doc
from moderation.video_pipeline import video_analyze

EVALUATION_SOURCE = "video-evaluation"


class _RolledBack(Exception):
    """Leaves the evaluation's transaction so that nothing of it is kept."""


def _interval_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def _edited_span(match: doc.Match) -> tuple[float, float] | None:
    edited = [s for s in match.segments if s.edited]
    return (edited[0].start_s, edited[-1].end_s) if edited else None


def _edited_box(match: doc.Match) -> tuple[float, float, float, float] | None:
    boxes = [r.bbox for s in match.segments if s.edited for r in s.regions if r.bbox is not None]
    if not boxes:
        return None
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def case_outcome(case: dict[str, Any], document: dict[str, Any], seconds: float) -> dict[str, Any]:
    """One query's figures from its report."""
    matches = doc.matches_of(document)
    best = matches[0] if matches else None
    found = best.reference.get("external_id") if best is not None else None
    outcome: dict[str, Any] = {
        "query": case["query"],
        "kind": case["kind"],
        "found": found,
        "correct": case["reference"] is not None and found == case["reference"],
        "false_match": case["reference"] is None and best is not None,
        "seconds": seconds,
        "duration_s": doc.media_of(document).duration_s or 0.0,
    }
    if outcome["correct"] and best is not None and best.offset_s is not None:
        outcome["offset_error_s"] = abs(best.offset_s - case["offset_s"])
    if case["reference"] is not None and case["edited_span_s"] is None:
        outcome["false_edit"] = bool(best is not None and _edited_span(best))
    if case["edited_span_s"] is not None:
        span = _edited_span(best) if outcome["correct"] and best is not None else None
        truth = tuple(case["edited_span_s"])
        outcome["temporal_iou"] = _interval_iou(span, truth) if span else 0.0
        box = _edited_box(best) if outcome["correct"] and best is not None else None
        outcome["spatial_iou"] = box_iou(box, tuple(case["edited_box"])) if box else 0.0
    return outcome


def _median(values: list[float]) -> float | None:
    return round(float(np.median(values)), 4) if values else None


def _mean(values: Iterable[float]) -> float | None:
    found = list(values)
    return round(float(np.mean(found)), 4) if found else None


def summarise(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    related = [o for o in outcomes if o["kind"] != "unrelated"]
    unrelated = [o for o in outcomes if o["kind"] == "unrelated"]
    errors = [o["offset_error_s"] for o in outcomes if "offset_error_s" in o]
    edited = [o for o in outcomes if "temporal_iou" in o]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for outcome in related:
        by_kind.setdefault(outcome["kind"], []).append(outcome)
    video_seconds = sum(o["duration_s"] for o in outcomes)
    return {
        "queries": len(outcomes),
        "recall_at_1": _mean(o["correct"] for o in related),
        "recall_at_1_by_kind": {
            kind: _mean(o["correct"] for o in rows) for kind, rows in by_kind.items()
        },
        "median_offset_error_s": _median(errors),
        "p95_offset_error_s": round(float(np.percentile(errors, 95)), 4) if errors else None,
        "temporal_iou": _mean(o["temporal_iou"] for o in edited),
        "spatial_iou": _mean(o["spatial_iou"] for o in edited),
        "false_edit_rate": _mean(o["false_edit"] for o in outcomes if "false_edit" in o),
        "false_matches": sum(o["false_match"] for o in unrelated),
        "unrelated_queries": len(unrelated),
        "seconds_per_video_second": round(sum(o["seconds"] for o in outcomes) / video_seconds, 3)
        if video_seconds
        else None,
    }


def evaluate_video(
    case_dir: Path, *, progress: Callable[[list[Any]], Iterable[Any]] = iter
) -> dict[str, Any]:
    """Add the references, analyse every query, roll everything back; the figures."""
    meta = json.loads((case_dir / CASES_FILE).read_text())
    outcomes: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="video-evaluation-") as index_folder,
        override_settings(INDEX_DIR=Path(index_folder)),
        contextlib.suppress(_RolledBack),
    ):
        _evaluate(case_dir, meta, outcomes, progress)
    return {"split": meta["split"], **summarise(outcomes), "cases": outcomes}


def _evaluate(
    case_dir: Path,
    meta: dict[str, Any],
    outcomes: list[dict[str, Any]],
    progress: Callable[[list[Any]], Iterable[Any]],
) -> None:
    """Add the references and analyse every query into `outcomes`; raises _RolledBack."""
    with transaction.atomic():
        for path in sorted((case_dir / "references").glob("*.mp4")):
            reference_add(
                content=path.read_bytes(), source=EVALUATION_SOURCE, external_id=path.stem
            )
        index_rebuild()  # the uncommitted references, in the evaluation's own index folder
        for case in progress(meta["cases"]):
            content = (case_dir / "queries" / f"{case['query']}.mp4").read_bytes()
            started = time.perf_counter()
            analysis = video_analyze(content=content, input_name=case["query"])
            seconds = time.perf_counter() - started
            outcomes.append(case_outcome(case, analysis.document, seconds))
        raise _RolledBack
