"""The embedding lead of every candidate dense alignment accepts, for true originals and others.

    python scripts/dense_margins.py CASES_DIR [--distractors N] [--json OUT]

Runs the matcher over a generated case set (use a `tune` split: the threshold is chosen there)
exactly as `evaluate_factcheck` does, and records each dense check the matcher makes: the
candidate's embedding lead over the query's DenseConfig.margin_rank-th most similar reference
(`Candidate.embedding_margin`) and whether dense alignment accepted it. Prints, for accepted
alignments, the largest lead of an unrelated query's candidate (a false match in waiting) and
how many copies of each original a margin just above it would confirm. The shipped value is
`dense_confirm_margin` in factcheck/models/descriptor-v1.json (docs/model-card-descriptor.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parents[1] / "platform"))

SAFETY = 0.03  # added to the largest unrelated lead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_dir", type=Path)
    parser.add_argument("--distractors", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from config.bootstrap import configure

    configure()
    import django

    django.setup()
    from factcheck.core import matcher
    from factcheck.embedding import configured_embedder
    from factcheck.evaluation.evaluate import (
        build_references,
        match_indexed,
        read_cases,
        read_meta,
        read_rgb,
    )
    from factcheck.selectors import match_config

    embedder = configured_embedder()
    config = match_config()
    meta = read_meta(args.case_dir)
    distractors = (
        int(meta.get("default_distractors", 0)) if args.distractors is None else args.distractors
    )
    references, index, names = build_references(
        args.case_dir, distractors, config, meta.get("tier", "base"), embedder
    )
    checks: list[dict] = []
    dense = matcher._dense

    def recording(image, candidate, source, match_config_, anchor=None):
        result = dense(image, candidate, source, match_config_, anchor)
        if result is not None:
            checks.append(
                {
                    "reference": names.get(candidate.reference_id, "procedural distractor"),
                    "lead": candidate.embedding_margin,
                    "accepted": result.accepted,
                }
            )
        return result

    matcher._dense = recording
    leads: dict[str, list[float]] = {"original": [], "unrelated": [], "other": []}
    for case in read_cases(args.case_dir):
        checks.clear()
        match_indexed(read_rgb(args.case_dir / case["query"]), references, index, config)
        for check in checks:
            if not check["accepted"] or check["lead"] is None:
                continue
            if case["group"] == "unrelated":
                group = "unrelated"
            elif check["reference"] in (case["expected"], case.get("pair")):
                group = "original"
            else:
                group = "other"
            leads[group].append(round(float(check["lead"]), 4))
    worst = max(leads["unrelated"], default=0.0)
    threshold = worst + SAFETY
    report = {
        "case_dir": str(args.case_dir),
        "distractors": distractors,
        "accepted_alignments": {group: len(values) for group, values in leads.items()},
        "largest_unrelated_lead": worst,
        "margin_suggested": round(threshold, 3),
        "originals_confirmed_at_suggestion": int(sum(v >= threshold for v in leads["original"])),
        "others_confirmed_at_suggestion": int(sum(v >= threshold for v in leads["other"])),
        "original_lead_percentiles": {
            f"p{p}": round(float(np.percentile(leads["original"], p)), 3)
            for p in (5, 10, 25, 50)
            if leads["original"]
        },
        "leads": leads,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "leads"}, indent=1))


if __name__ == "__main__":
    main()
