"""The hard tier of the fact-check evaluation (issue 15): exactly the failure classes.

    python manage.py generate_factcheck_cases OUT_DIR --tier hard --split tune|test

Same layout as the base tier (factcheck.evaluation.evalcases) plus OUT_DIR/distractors/*.jpg
(near-duplicates of the originals, indexed next to them) and, per case, `class` (primary),
`classes` (every failure class the query belongs to), `class_combination`, `texture`,
`source_kind`, `pair` (the other indexed version of a near-identical pair) and `tier`.

Classes (HARD_CLASSES): `low_texture` (a plain resized JPEG copy of an original that SIFT or PDQ
cannot describe: the base tier drops those), the repost chains of evaledits.HARD_CHAINS
(`mirror`, `mirror_crop`, `downscale_jpeg`, `probe_chain`), `near_duplicate` (two versions of one
design both indexed; the query is a copy of one), `edited_hard` (an edit, then a chain) and
`unrelated`. A chain applied to a low-texture original carries both classes.

Sources: the base tier's, without its keypoint and PDQ-quality filter, plus gnome-backgrounds,
desktop-base's SVG wallpapers, transparent wallpapers over a desktop colour, and the procedural
low-texture images of factcheck.evaluation.evallowtexture. A source the base tier uses keeps the
base tier's split, and a design group never straddles splits, so tuning on both tiers' `tune`
never sees a `test` picture.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from factcheck.evaluation.evalcases import (
    EDIT_ATTEMPTS,
    MIN_VISIBLE_EDIT,
    UNRELATED_FRACTION,
    CaseWriter,
    safe_stem,
)
from factcheck.evaluation.evaldistractors import PROCEDURAL_KINDS, procedural_image
from factcheck.evaluation.evaledits import (
    EDITS,
    HARD_CHAINS,
    PLAIN_COPY,
    VARIANTS,
    v_colour,
    v_crop,
)
from factcheck.evaluation.evalhardsources import (
    DesignSource,
    Member,
    base_tier_splits,
    hard_sources,
    measured_member,
    prepare_groups,
)
from factcheck.evaluation.evalsources import (
    Source,
    stable_fraction,
)

HARD_CLASSES = (
    "low_texture",
    "mirror",
    "mirror_crop",
    "downscale_jpeg",
    "probe_chain",
    "near_duplicate",
    "edited_hard",
    "unrelated",
)
HARD_DEFAULT_DISTRACTORS = 1000  # procedural references evaluate_factcheck adds by default
DEFAULT_GENERATED_LOW = 100  # procedural low-texture sources, both splits together
MAX_GROUP_DISTRACTORS = 3
PAIR_FRACTION = 0.5  # share of version groups indexed as a near-identical pair
SYNTHETIC_PAIR_FRACTION = 0.15  # share of single sources given a synthetic second version
EDITS_PER_ORIGINAL = 2
SPLITS = ("tune", "test")
EXTRA_UNRELATED_SEED = 5_000_000  # as the base tier's, per split


def _labels(classes: list[str]) -> dict[str, Any]:
    return {"class": classes[0], "classes": classes, "class_combination": "+".join(classes)}


class HardCases:
    """Writes one split's queries; `stats` counts what was skipped and why."""

    def __init__(self, writer: CaseWriter, chains: list[str], edits: list[str]) -> None:
        self.writer, self.chains, self.edits = writer, chains, edits
        self.stats: Counter[str] = Counter()

    def _base(self, member: Member, expected: str | None, **extra: Any) -> dict[str, Any]:
        return (
            dict(
                expected=expected,
                source=member.name,
                tier="hard",
                texture=member.texture,
                source_kind=member.design.kind,
                pair=None,
                pair_kind=None,
            )
            | extra
        )

    def _copy(self, stem: str, member: Member, chain: str, classes: list[str], **base: Any) -> None:
        empty = np.zeros(member.image.shape[:2], np.uint8)
        rng = np.random.default_rng([stable_int(stem), 1])
        apply = PLAIN_COPY if chain == "plain_copy" else HARD_CHAINS[chain]
        image, _, quality = apply(member.image, empty, rng)
        low = ["low_texture"] if member.texture == "low" and "low_texture" not in classes else []
        group = "unrelated" if base["expected"] is None else "copy"
        self.writer.query(
            stem,
            image,
            None,
            quality=quality,
            group=group,
            transforms=[chain],
            edit=None,
            **_labels(classes + low),
            **base,
        )

    def original(
        self, member: Member, expected: str, rng: np.random.Generator, donors: list[np.ndarray]
    ) -> None:
        stem = safe_stem(member.name)
        base = self._base(member, expected)
        if member.texture == "low":
            self._copy(f"{stem}__low_texture", member, "plain_copy", ["low_texture"], **base)
        for chain in self.chains:
            self._copy(f"{stem}__{chain}", member, chain, [chain], **base)
        wanted = min(EDITS_PER_ORIGINAL, len(self.edits))
        kinds = [str(k) for k in rng.permutation(self.edits)]
        made = 0
        for kind in kinds:
            if made == wanted:
                break
            chain = str(rng.choice(self.chains))
            edited = _edited(member.image, kind, chain, donors[int(rng.integers(len(donors)))], rng)
            if edited is None:
                self.stats["invisible_edit"] += 1
                continue
            image, mask, quality = edited
            low = ["low_texture"] if member.texture == "low" else []
            self.writer.query(
                f"{stem}__edit_{kind}",
                image,
                mask,
                quality=quality,
                group="edited",
                transforms=[chain],
                edit=kind,
                **_labels(["edited_hard", chain, *low]),
                **base,
            )
            made += 1
        self.stats["edits_short"] += wanted - made

    def pair(
        self,
        members: tuple[Member, Member],
        paths: tuple[str, str],
        kind: str,
        rng: np.random.Generator,
    ) -> None:
        for index, member in enumerate(members):
            base = self._base(member, paths[index], pair=paths[1 - index], pair_kind=kind)
            stem = safe_stem(member.name)
            self._copy(f"{stem}__near_duplicate", member, "plain_copy", ["near_duplicate"], **base)
            chain = str(rng.choice(self.chains))
            classes = ["near_duplicate", chain]
            self._copy(f"{stem}__near_duplicate_{chain}", member, chain, classes, **base)

    def unrelated(self, member: Member, rng: np.random.Generator) -> None:
        chain = str(rng.choice(["plain_copy", *self.chains]))
        stem = f"{safe_stem(member.name)}__unrelated"
        self._copy(stem, member, chain, ["unrelated"], **self._base(member, None))


def stable_int(text: str) -> int:
    return int(stable_fraction(text, 0) * 2**62)


def _edited(
    image: np.ndarray, kind: str, chain: str, donor: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int | None] | None:
    """(image, mask, quality) of an edit followed by `chain`, or None when no draw leaves a
    visible edit (a crop can cut it away; inpainting a flat patch changes nothing)."""
    for _ in range(EDIT_ATTEMPTS):
        edited, mask = EDITS[kind](image, rng, donor)
        edited, mask, quality = HARD_CHAINS[chain](edited, mask, rng)
        if (mask > 0).mean() >= MIN_VISIBLE_EDIT:
            return edited, mask, quality
    return None


def _distractor_variant(member: Member, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """Another version of the original's design, colour-graded so it is a different picture
    even when the version differs only by crop; a sibling photo, cropped or graded."""
    if member.design.versions or rng.random() < 0.5:
        return "colour", v_colour(member.image, rng)
    return "crop", v_crop(member.image, rng)


def _second_version(first: Member, rng: np.random.Generator) -> tuple[Member, str]:
    """A synthetic second version of a single source: colour variant, small text or logo
    change, or slight crop (evaledits.VARIANTS)."""
    kind = str(rng.choice(list(VARIANTS)))
    source = first.design.source
    design = DesignSource(
        Source(f"{source.name}__{kind}", source.family, source.load),
        first.design.group,
        True,
        first.design.kind,
    )
    return measured_member(design, VARIANTS[kind](first.image, rng)), kind


def _write_group(
    cases: HardCases,
    group: str,
    members: list[Member],
    seed: int,
    number: int,
    donors: list[np.ndarray],
) -> Counter[str]:
    """One indexed design group: a near-identical pair or one original, plus its other
    versions or siblings as distractors."""
    writer, roles = cases.writer, Counter[str]()
    rng = np.random.default_rng([seed, number, 15])
    first, rest = members[0], members[1:]
    pair_draw = stable_fraction("pair:" + group, seed) < PAIR_FRACTION
    synthetic_draw = stable_fraction("synthetic-pair:" + group, seed) < SYNTHETIC_PAIR_FRACTION
    if (first.design.versions and rest and pair_draw) or (not rest and synthetic_draw):
        if rest:
            second, kind = rest.pop(0), "versions"
        else:
            second, kind = _second_version(first, rng)
        paths = (writer.original(first.prepared), writer.original(second.prepared))
        cases.pair((first, second), paths, kind, rng)
        roles["pairs"] += 1
    else:
        cases.original(first, writer.original(first.prepared), rng, donors)
        roles["originals"] += 1
        if first.design.sibling is not None:
            writer.distractor(f"{safe_stem(first.name)}__sibling", first.design.sibling())
            roles["distractors"] += 1
    for member in rest[:MAX_GROUP_DISTRACTORS]:
        variant, image = _distractor_variant(member, rng)
        writer.distractor(f"{safe_stem(member.name)}__{variant}", image)
        roles["distractors"] += 1
    return roles


def _extra_unrelated(split: str, seed: int, count: int) -> list[Member]:
    """Procedural unrelated queries of every kind, seeds apart from every indexed picture's."""
    base_seed = EXTRA_UNRELATED_SEED * (1 + SPLITS.index(split)) + seed * 100_003
    extra = []
    for index in range(count):
        kind = PROCEDURAL_KINDS[index % len(PROCEDURAL_KINDS)]
        name = f"extra-{split}-{kind}-{index}"
        source = Source(name, name, partial(procedural_image, kind, base_seed + index))
        design = DesignSource(source, name, False, f"procedural-{kind}")
        extra.append(measured_member(design, source.load()))
    return extra


def generate_hard_cases(
    out_dir: str | Path,
    *,
    split: str,
    seed: int = 0,
    generated: int = 20,
    generated_low: int = DEFAULT_GENERATED_LOW,
    extra_unrelated: int = 0,
    sources: list[DesignSource] | None = None,
    base_splits: dict[str, str] | None = None,
    chains: list[str] | None = None,
    edits: list[str] | None = None,
) -> dict[str, Any]:
    """Write the hard tier's case set for `split`; returns the meta dict. `sources` replaces the
    default sources (then `base_splits`, the base tier's split per source name, defaults to
    none); `chains`/`edits` restrict the kinds generated (tests use a few to stay fast)."""
    if sources is None:
        sources = hard_sources(generated, generated_low, seed)
        base_splits = base_tier_splits(generated, seed) if base_splits is None else base_splits
    members, splits, skipped = prepare_groups(sources, base_splits or {}, seed)
    cases = HardCases(
        CaseWriter(Path(out_dir)),
        chains if chains is not None else list(HARD_CHAINS),
        edits if edits is not None else list(EDITS),
    )
    groups = {g: m for g, m in members.items() if splits[g] == split}
    unrelated = [g for g in groups if stable_fraction("unrelated:" + g, seed) < UNRELATED_FRACTION]
    indexed = {g: m for g, m in groups.items() if g not in unrelated}
    donors = [m[0].image for m in indexed.values()] or [m[0].image for m in groups.values()]
    roles: Counter[str] = Counter()
    for number, (group, group_members) in enumerate(indexed.items()):
        roles += _write_group(cases, group, list(group_members), seed, number, donors)
    unrelated_members = [groups[g][0] for g in unrelated]
    unrelated_members += _extra_unrelated(split, seed, extra_unrelated)
    for number, member in enumerate(unrelated_members):
        cases.unrelated(member, np.random.default_rng([seed, 10_000 + number, 15]))
    roles["unrelated"] = len(unrelated_members)
    by_class = Counter(c for case in cases.writer.cases for c in case["classes"])
    meta = {
        "tier": "hard",
        "split": split,
        "seed": seed,
        "originals": 2 * roles["pairs"] + roles["originals"],
        "roles": dict(roles),
        "unrelated": len(unrelated_members),
        "extra_unrelated": extra_unrelated,
        "queries": len(cases.writer.cases),
        "queries_per_class": {name: by_class[name] for name in HARD_CLASSES},
        "default_distractors": HARD_DEFAULT_DISTRACTORS,
        "skipped_sources": dict(skipped),
        "skipped_edits": dict(cases.stats),
    }
    cases.writer.finish(meta)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the hard tier's fact-check cases.")
    parser.add_argument("out_dir")
    parser.add_argument("--split", choices=SPLITS, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generated", type=int, default=20)
    parser.add_argument("--generated-low", type=int, default=DEFAULT_GENERATED_LOW)
    parser.add_argument("--extra-unrelated", type=int, default=0)
    args = parser.parse_args(argv)
    meta = generate_hard_cases(
        args.out_dir,
        split=args.split,
        seed=args.seed,
        generated=args.generated,
        generated_low=args.generated_low,
        extra_unrelated=args.extra_unrelated,
    )
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
