"""Edit localisation with and without photometric refinement of the alignment, side by side.

    python scripts/localize_refine_ab.py CASES_DIR [--cases 250] [--seed 0]

For a random sample of a case set's queries that have an original (use a `tune` split), the
query is verified against its original alone (factcheck.core.matcher.match_references) and its
edits localised twice in the same run: LocalizeConfig(refine=False) and the default (refined,
factcheck.core.localize.refine_alignment). Prints, for each: the false-edit rate on unedited
copies, the mean edit-mask IoU on edited copies, and the queries verification missed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factcheck.core.localize import LocalizeConfig
from factcheck.core.matcher import MatchConfig, match_references
from factcheck.evaluation.evaluate import InMemoryReferences, mask_scores, read_cases, read_rgb


@dataclass
class Tally:
    copies: int = 0
    false_edits: int = 0
    iou: list[float] = field(default_factory=list)
    missed: int = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_dir", type=Path)
    parser.add_argument("--cases", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cases = [case for case in read_cases(args.case_dir) if case["expected"]]
    sample = np.random.default_rng(args.seed).permutation(len(cases))[: args.cases]
    variants = {"plain": False, "refined": True}
    tallies = {name: Tally() for name in variants}
    for number in sample:
        case = cases[number]
        query = read_rgb(args.case_dir / case["query"])
        original = read_rgb(args.case_dir / case["expected"])
        for name, refine in variants.items():
            config = MatchConfig(localize=LocalizeConfig(refine=refine))
            references = InMemoryReferences(images={1: original}, config=config)
            matches = match_references(
                query, reference_ids=[1], references=references, config=config
            ).matches
            tally = tallies[name]
            if not matches:
                tally.missed += 1
            elif case["group"] == "copy":
                tally.copies += 1
                tally.false_edits += int(matches[0].edited)
            elif case["mask"]:
                truth = cv2.imread(str(args.case_dir / case["mask"]), cv2.IMREAD_GRAYSCALE)
                if truth is None:
                    raise FileNotFoundError(args.case_dir / case["mask"])
                tally.iou.append(mask_scores(matches[0].edit_mask, truth)[0])
    report = {
        name: {
            "copies": t.copies,
            "false_edits": t.false_edits,
            "false_edit_rate": round(t.false_edits / max(1, t.copies), 4),
            "edited": len(t.iou),
            "mean_iou": round(float(np.mean(t.iou)), 4) if t.iou else None,
            "missed": t.missed,
        }
        for name, t in tallies.items()
    }
    print(json.dumps({"case_dir": str(args.case_dir), "cases": len(sample), **report}, indent=1))


if __name__ == "__main__":
    main()
