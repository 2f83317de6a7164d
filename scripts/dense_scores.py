"""Dense verification's scores for true pairs against the candidates that are not the original.

    python scripts/dense_scores.py CASES_DIR [--descriptor factcheck/models/descriptor-v1.json]
        [--negatives 3] [--json OUT]

For every query of a generated case set (use a `tune` split: thresholds are chosen there), the
query is aligned (factcheck.core.dense) with its true original, and with the `--negatives`
references the learned descriptor ranks highest that are neither the original nor its
near-identical twin: the candidates dense verification actually sees in production, including
the hard tier's siblings and unrelated pictures of the same kind. Prints each score's
percentiles for both groups, and how many of each the configured thresholds accept: a negative
accepted is a false match in waiting.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from factcheck.core.dense import DenseConfig, dense_verify
from factcheck.core.descriptor import DEFAULT_CONFIG_PATH, Descriptor
from factcheck.evaluation.evaluate import read_cases, read_rgb

SCORES = ("correlation", "detail", "colour", "overlap")
PERCENTILES = (0, 1, 5, 50, 95, 99, 100)


def _summary(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        score: {
            f"p{p}": round(float(np.percentile([row[score] for row in rows], p)), 4)
            for p in PERCENTILES
        }
        for score in SCORES
        if rows
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_dir", type=Path)
    parser.add_argument("--descriptor", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--negatives", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    config = DenseConfig()
    descriptor = Descriptor.load(args.descriptor)
    names = sorted(
        f"{folder}/{path.name}"
        for folder in ("originals", "distractors")
        for path in (args.case_dir / folder).glob("*")
        if path.suffix in (".png", ".jpg")
    )
    images = {name: read_rgb(args.case_dir / name) for name in names}
    vectors = np.concatenate(
        [
            descriptor.describe([images[n] for n in names[i : i + 32]])
            for i in range(0, len(names), 32)
        ]
    )
    positives, negatives, accepted_negatives = [], [], []
    for case in read_cases(args.case_dir):
        query = read_rgb(args.case_dir / case["query"])
        views = descriptor.describe([query, np.ascontiguousarray(query[:, ::-1])])
        similarity = (views @ vectors.T).max(axis=0)
        excluded = {case["expected"], case.get("pair")}
        ranked = [names[i] for i in np.argsort(-similarity) if names[i] not in excluded]
        if case["expected"]:
            result = dense_verify(query, images[case["expected"]], config)
            positives.append({**{s: getattr(result, s) for s in SCORES}, "ok": result.accepted})
        for name in ranked[: args.negatives]:
            result = dense_verify(query, images[name], config)
            negatives.append({**{s: getattr(result, s) for s in SCORES}, "ok": result.accepted})
            if result.accepted:
                accepted_negatives.append([case["query"], name])
    report = {
        "case_dir": str(args.case_dir),
        "descriptor": descriptor.tag,
        "config": {
            "min_overlap": config.min_overlap,
            "min_correlation": config.min_correlation,
            "min_detail": config.min_detail,
            "max_colour": config.max_colour,
        },
        "positives": len(positives),
        "positives_accepted": sum(row["ok"] for row in positives),
        "negatives": len(negatives),
        "negatives_accepted": len(accepted_negatives),
        "accepted_negatives": accepted_negatives,
        "positive_scores": _summary(positives),
        "negative_scores": _summary(negatives),
    }
    text = json.dumps(report, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
