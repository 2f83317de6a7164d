"""Dense alignment of each query against the references its descriptor ranks nearest: the
material for choosing when an accepted dense alignment may confirm a match (tune split only).

    python scripts/dense_rivals.py CASES_DIR [--distractors N] [--shard K/N] --out rows.jsonl
    python scripts/dense_rivals.py --summary 'rows-*.jsonl'

Indexes, as `evaluate_factcheck` does, the case set's originals and distractors and N procedural
near-duplicate families (factcheck.evaluation.evaldistractors), by the learned descriptor only
(candidates and leads; no local features, so it runs in minutes). For every query it records
the `--top` nearest references (the image or its mirror) with their similarity and their dense
alignment's scores (factcheck.core.dense), and the true original's wherever it ranks in the
first ten: one JSON line per query. `--summary` replays the matcher's dense pass on those lines
(the first DenseConfig.max_candidates candidates, the shipped DenseConfig and the descriptor's
dense_confirm_margin): copies confirmed to their original, to its near-identical twin, to
another picture, not at all, and unrelated queries confirmed (false matches), plus the highest
detail floor and lead among the unrelated queries' accepted candidates.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from factcheck.core.dense import DenseConfig, DenseVerification, dense_verify
from factcheck.core.descriptor import DEFAULT_CONFIG_PATH, Descriptor
from factcheck.core.matcher import dense_confirms
from factcheck.evaluation.evaldistractors import hard_distractor
from factcheck.evaluation.evaluate import (
    EMBED_BATCH,
    REFERENCE_SUFFIXES,
    read_cases,
    read_meta,
    read_rgb,
)

SCORES = ("correlation", "detail", "colour", "overlap", "tile_details", "accepted")
RECORDED = 10  # ranks kept per query (similarities), so the true original's rank shows
PROCEDURAL = "procedural/"


def _reference_names(case_dir: Path, distractors: int) -> list[str]:
    """As evaluate_factcheck indexes them: originals (PNG), the case set's distractors, then the
    procedural families."""
    names = [f"originals/{path.name}" for path in sorted((case_dir / "originals").glob("*.png"))]
    names += [
        f"distractors/{path.name}"
        for path in sorted((case_dir / "distractors").glob("*"))
        if path.suffix.lower() in REFERENCE_SUFFIXES
    ]
    return names + [f"{PROCEDURAL}{offset}" for offset in range(distractors)]


def _image(case_dir: Path, name: str) -> np.ndarray:
    if name.startswith(PROCEDURAL):
        return hard_distractor(int(name.removeprefix(PROCEDURAL)))
    return read_rgb(case_dir / name)


def collect(args: argparse.Namespace) -> None:
    meta = read_meta(args.case_dir)
    distractors = args.distractors
    if distractors is None:
        distractors = int(meta.get("default_distractors", 0))
    descriptor = Descriptor.load(args.descriptor)
    config = DenseConfig()
    names = _reference_names(args.case_dir, distractors)
    vectors = np.concatenate(
        [
            descriptor.describe([_image(args.case_dir, n) for n in names[i : i + EMBED_BATCH]])
            for i in range(0, len(names), EMBED_BATCH)
        ]
    )
    shard, shards = (int(part) for part in args.shard.split("/"))
    with args.out.open("w") as out:
        for case in tqdm(read_cases(args.case_dir)[shard::shards], unit="query"):
            query = read_rgb(args.case_dir / case["query"])
            views = descriptor.describe([query, np.ascontiguousarray(query[:, ::-1])])
            similarity = (views @ vectors.T).max(axis=0)
            rows: list[dict[str, Any]] = []
            for rank, index in enumerate(np.argsort(-similarity)[:RECORDED]):
                row: dict[str, Any] = {
                    "name": names[index],
                    "rank": rank,
                    "similarity": round(float(similarity[index]), 5),
                }
                if rank < args.top or names[index] == case["expected"]:
                    result = dense_verify(query, _image(args.case_dir, names[index]), config)
                    row.update({score: getattr(result, score) for score in SCORES})
                rows.append(row)
            record = {key: case.get(key) for key in ("query", "expected", "pair", "edit")}
            out.write(json.dumps({**record, "rivals": rows}) + "\n")


def _verification(row: dict[str, Any]) -> DenseVerification:
    return DenseVerification(
        **{score: row[score] for score in SCORES if score != "tile_details"},
        tile_details=tuple(row["tile_details"]),
    )


def summary(pattern: str, descriptor_path: Path) -> dict[str, Any]:
    config = DenseConfig()
    margin = Descriptor.load(descriptor_path).dense_confirm_margin
    counts = dict.fromkeys(("original", "twin", "other", "none", "false_matches"), 0)
    unrelated_floor, unrelated_lead = 0.0, -1.0
    for path in sorted(glob.glob(pattern)):
        for line in Path(path).read_text().splitlines():
            record = json.loads(line)
            rivals = record["rivals"]
            baseline = rivals[config.margin_rank]["similarity"]
            confirmed = []
            for row in rivals[: config.max_candidates]:
                if "accepted" not in row:  # not given a dense check
                    continue
                dense, lead = _verification(row), row["similarity"] - baseline
                if not record["expected"] and dense.accepted:
                    unrelated_floor = max(unrelated_floor, dense.detail_floor)
                    unrelated_lead = max(unrelated_lead, lead)
                if dense_confirms(dense, lead, config, margin):
                    confirmed.append(row)
            if not record["expected"]:
                counts["false_matches"] += bool(confirmed)
                continue
            if not confirmed:
                counts["none"] += 1
                continue
            top = max(confirmed, key=lambda row: row["detail"])["name"]
            kind = {record["expected"]: "original", record["pair"]: "twin"}.get(top, "other")
            counts[kind] += 1
    return {
        **counts,
        "unrelated_max_detail_floor": round(unrelated_floor, 4),
        "unrelated_max_lead": round(unrelated_lead, 4),
        "margin": margin,
        "min_detail_floor": config.min_detail_floor,
        "exact": [config.exact_detail, config.exact_colour, config.exact_floor],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case_dir", type=Path, nargs="?")
    parser.add_argument("--distractors", type=int, default=None)
    parser.add_argument("--descriptor", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--top", type=int, default=4, help="candidates given a dense check")
    parser.add_argument("--shard", default="0/1", help="K/N: every N-th query from the K-th")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--summary", metavar="GLOB", help="summarise collected rows instead")
    args = parser.parse_args()
    if args.summary:
        print(json.dumps(summary(args.summary, args.descriptor)))
        return
    if args.case_dir is None or args.out is None:
        parser.error("CASES_DIR and --out are required to collect rows")
    collect(args)


if __name__ == "__main__":
    main()
