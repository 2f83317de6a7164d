"""How far, in PDQ bits, each query of a case set is from its original (best of the 8 dihedral
hashes), per transform and edit kind (per class combination in the hard tier): the radius PDQ
search needs to find them.

    python -m factcheck.evaluation.pdq_reach CASE_DIR [--radii 31,47,63,100]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from factcheck.core.fingerprints import pdq_dihedral_hashes, pdq_hash
from factcheck.evaluation.evaluate import read_cases, read_rgb


def pdq_reach(case_dir: str | Path, radii: list[int]) -> dict[str, dict[str, float]]:
    """{group: {"n": count, "within_<r>": share of queries within r bits of their original}}."""
    case_dir = Path(case_dir)
    originals: dict[str, np.ndarray] = {}
    distances: dict[str, list[int]] = defaultdict(list)
    for case in read_cases(case_dir):
        if case["group"] == "unrelated":
            continue
        if case["expected"] not in originals:
            originals[case["expected"]] = pdq_hash(read_rgb(case_dir / case["expected"])).bits
        hashes, _ = pdq_dihedral_hashes(read_rgb(case_dir / case["query"]))
        distance = int(np.unpackbits(hashes ^ originals[case["expected"]], axis=1).sum(1).min())
        label = "+".join(case["transforms"]) if case["group"] == "copy" else case["edit"]
        label = case.get("class_combination", label)  # hard tier: its failure classes
        distances[f"{case['group']}:{label}"].append(distance)
        distances["all"].append(distance)
    return {
        group: {"n": len(values), **{f"within_{r}": _share(values, r) for r in radii}}
        for group, values in sorted(distances.items())
    }


def _share(values: list[int], radius: int) -> float:
    return round(float(np.mean(np.asarray(values) <= radius)), 3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_dir")
    parser.add_argument("--radii", default="31,47,63,100")
    args = parser.parse_args(argv)
    radii = [int(value) for value in args.radii.split(",")]
    for group, row in pdq_reach(args.case_dir, radii).items():
        print(json.dumps({"group": group, **row}))


if __name__ == "__main__":
    main()
