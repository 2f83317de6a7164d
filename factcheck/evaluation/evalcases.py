"""Deterministic generator of fact-check evaluation cases.

    python -m factcheck.evaluation.evalcases OUT_DIR --split tune|test [--seed 0] [--generated 20]
        [--extra-unrelated 0]

Writes OUT_DIR/originals/*.png (to index), OUT_DIR/queries/*.jpg, OUT_DIR/queries/masks/*.png
(ground truth, query grid) and OUT_DIR/queries/cases.jsonl. Sources are split into disjoint
`tune` and `test` sets by source family, so thresholds tuned on `tune` never saw a `test` image.
Within a split, UNRELATED_FRACTION of the sources are never indexed and serve as unrelated
queries, plus --extra-unrelated procedural images (seeds apart from the split's own and from the
evaluator's distractors) to measure false matches on more than a handful of queries. Per
original: one copy per global transform, one copy per edit kind followed by one
random global transform, all saved as JPEG (quality QUERY_JPEG_QUALITY) like a re-upload.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from factcheck.core.features import extract_features
from factcheck.core.fingerprints import hamming_distance, pdq_hash
from factcheck.evaluation.evaledits import EDITS, TRANSFORMS
from factcheck.evaluation.evalsources import (
    MIN_SOURCE_SIDE,
    Source,
    generated_image,
    generated_sources,
    limit_size,
    skimage_sources,
    sklearn_sources,
    stable_fraction,
    system_sources,
)

UNRELATED_FRACTION = 0.2
TUNE_FRACTION = 0.5
QUERY_JPEG_QUALITY = 90
NEAR_DUPLICATE_BITS = 70  # PDQ distance under which two sources count as the same picture
MIN_SOURCE_KEYPOINTS = 150  # an original with fewer cannot be verified geometrically
MIN_PDQ_QUALITY = 30
MIN_VISIBLE_EDIT = 0.002  # share of the query's pixels the ground-truth edit must cover
EDIT_ATTEMPTS = 5
EXTRA_UNRELATED_SEED = 5_000_000  # procedural seeds for --extra-unrelated, per split
DISTRACTOR_JPEG_QUALITY = 95


@dataclass(frozen=True)
class Prepared:
    name: str
    family: str
    image: np.ndarray


def prepare_sources(sources: list[Source]) -> tuple[list[Prepared], dict[str, int]]:
    """Load, size-limit and filter sources: too small, too featureless, undecodable, or a
    near-duplicate of an earlier source (e.g. one wallpaper at three resolutions)."""
    kept: list[Prepared] = []
    hashes: list[np.ndarray] = []
    families_seen: set[str] = set()
    skipped = {"small": 0, "featureless": 0, "duplicate": 0, "unreadable": 0}
    for source in sources:
        if source.family in families_seen:
            skipped["duplicate"] += 1
            continue
        try:
            image = source.load()
        except (ValueError, OSError):
            skipped["unreadable"] += 1
            continue
        if min(image.shape[:2]) < MIN_SOURCE_SIDE:
            skipped["small"] += 1
            continue
        image = limit_size(image)
        fingerprint = pdq_hash(image)
        if any(
            hamming_distance(fingerprint.bits, other) <= NEAR_DUPLICATE_BITS for other in hashes
        ):
            skipped["duplicate"] += 1
            continue
        if (
            fingerprint.quality < MIN_PDQ_QUALITY
            or len(extract_features(image)) < MIN_SOURCE_KEYPOINTS
        ):
            skipped["featureless"] += 1
            continue
        families_seen.add(source.family)
        hashes.append(fingerprint.bits)
        kept.append(Prepared(source.name, source.family, image))
    return kept, skipped


def default_sources(generated: int, seed: int, include_system: bool = True) -> list[Source]:
    sources = skimage_sources() + sklearn_sources()
    if include_system:
        sources += system_sources()
    return sources + generated_sources(generated, seed)


def split_sources(
    prepared: list[Prepared], split: str, seed: int
) -> tuple[list[Prepared], list[Prepared]]:
    """(originals, unrelated) of `split`, assigned by family so variants never straddle splits."""
    chosen = [
        p
        for p in prepared
        if (stable_fraction(p.family, seed) < TUNE_FRACTION) == (split == "tune")
    ]
    unrelated = [
        p for p in chosen if stable_fraction("unrelated:" + p.family, seed) < UNRELATED_FRACTION
    ]
    originals = [p for p in chosen if p not in unrelated]
    return originals, unrelated


def safe_stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _write_rgb(path: Path, image: np.ndarray, quality: int | None = None) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if quality else []
    if not cv2.imwrite(str(path), image[..., ::-1], params):
        raise OSError(f"cannot write {path}")


class CaseWriter:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        for sub in ("originals", "queries", "queries/masks"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
        self.cases: list[dict[str, Any]] = []

    def original(self, prepared: Prepared) -> str:
        relative = f"originals/{safe_stem(prepared.name)}.png"
        _write_rgb(self.out_dir / relative, prepared.image)
        return relative

    def query(
        self,
        stem: str,
        image: np.ndarray,
        mask: np.ndarray | None,
        quality: int | None = None,
        **case: Any,
    ) -> None:
        """`quality`: the JPEG quality of a repost chain that ends in its own recompression
        (written once, as a platform re-encodes once); QUERY_JPEG_QUALITY otherwise."""
        relative = f"queries/{stem}.jpg"
        _write_rgb(self.out_dir / relative, image, quality or QUERY_JPEG_QUALITY)
        mask_path = None
        if mask is not None:
            mask_path = f"queries/masks/{stem}.png"
            cv2.imwrite(str(self.out_dir / mask_path), mask)
        self.cases.append({"query": relative, "mask": mask_path, **case})

    def distractor(self, stem: str, image: np.ndarray) -> str:
        """A reference indexed next to the originals that no query was made from."""
        (self.out_dir / "distractors").mkdir(exist_ok=True)
        relative = f"distractors/{stem}.jpg"
        _write_rgb(self.out_dir / relative, image, DISTRACTOR_JPEG_QUALITY)
        return relative

    def finish(self, meta: dict[str, Any]) -> None:
        with open(self.out_dir / "queries" / "cases.jsonl", "w") as handle:
            for case in self.cases:
                handle.write(json.dumps(case) + "\n")
        (self.out_dir / "meta.json").write_text(json.dumps(meta, indent=2))


def _edited_case(
    prepared: Prepared, edit: str, donor: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """An edit followed by a random global transform. A crop can cut the edit away, and some
    edits change too little to see: such draws are retried, since a query whose ground-truth
    mask is (nearly) empty is an unedited copy, not an edited one."""
    for _ in range(EDIT_ATTEMPTS):
        edited, mask = EDITS[edit](prepared.image, rng, donor)
        transform = str(rng.choice(["none", *TRANSFORMS]))
        if transform != "none":
            edited, mask = TRANSFORMS[transform](edited, mask, rng)
        if (mask > 0).mean() >= MIN_VISIBLE_EDIT:
            break
    return edited, mask, [] if transform == "none" else [transform]


def generate_cases(
    out_dir: str | Path,
    *,
    split: str,
    seed: int = 0,
    generated: int = 20,
    extra_unrelated: int = 0,
    sources: list[Source] | None = None,
    transforms: list[str] | None = None,
    edits: list[str] | None = None,
) -> dict[str, Any]:
    """Write the case set for `split`; returns the meta dict (counts, skipped sources).
    `transforms`/`edits` restrict the kinds generated (tests use a few to stay fast)."""
    transform_names = transforms if transforms is not None else list(TRANSFORMS)
    edit_names = edits if edits is not None else list(EDITS)
    out = Path(out_dir)
    prepared, skipped = prepare_sources(
        sources if sources is not None else default_sources(generated, seed)
    )
    originals, unrelated = split_sources(prepared, split, seed)
    base_seed = EXTRA_UNRELATED_SEED * (1 + ["tune", "test"].index(split)) + seed * 100_003
    extra = [
        Prepared(f"extra-{split}-{i}", f"extra-{split}-{i}", generated_image(base_seed + i))
        for i in range(extra_unrelated)
    ]
    unrelated = unrelated + extra
    writer = CaseWriter(out)
    for index, original in enumerate(originals):
        rng = np.random.default_rng([seed, index])
        expected = writer.original(original)
        base: dict[str, Any] = dict(expected=expected, source=original.name)
        stem = safe_stem(original.name)
        for name in transform_names:
            transform = TRANSFORMS[name]
            empty = np.zeros(original.image.shape[:2], np.uint8)
            image, _ = transform(original.image, empty, rng)
            writer.query(
                f"{stem}__copy_{name}",
                image,
                None,
                group="copy",
                transforms=[name],
                edit=None,
                **base,
            )
        for edit in edit_names:
            donor = prepared[int(rng.integers(len(prepared)))].image
            image, mask, transforms = _edited_case(original, edit, donor, rng)
            writer.query(
                f"{stem}__edit_{edit}",
                image,
                mask,
                group="edited",
                transforms=transforms,
                edit=edit,
                **base,
            )
    for index, other in enumerate(unrelated):
        rng = np.random.default_rng([seed, 10_000 + index])
        name = str(rng.choice(list(TRANSFORMS)))
        image, _ = TRANSFORMS[name](other.image, np.zeros(other.image.shape[:2], np.uint8), rng)
        writer.query(
            f"{safe_stem(other.name)}__unrelated",
            image,
            None,
            group="unrelated",
            transforms=[name],
            edit=None,
            expected=None,
            source=other.name,
        )
    meta = {
        "split": split,
        "seed": seed,
        "originals": len(originals),
        "unrelated": len(unrelated),
        "extra_unrelated": len(extra),
        "queries": len(writer.cases),
        "skipped_sources": skipped,
    }
    writer.finish(meta)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate fact-check evaluation cases.")
    parser.add_argument("out_dir")
    parser.add_argument("--split", choices=["tune", "test"], required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generated", type=int, default=20, help="procedural images to add")
    parser.add_argument(
        "--extra-unrelated", type=int, default=0, help="procedural unrelated queries to add"
    )
    args = parser.parse_args(argv)
    print(
        json.dumps(
            generate_cases(
                args.out_dir,
                split=args.split,
                seed=args.seed,
                generated=args.generated,
                extra_unrelated=args.extra_unrelated,
            )
        )
    )


if __name__ == "__main__":
    main()
