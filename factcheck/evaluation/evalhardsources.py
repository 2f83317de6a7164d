"""Sources of the hard evaluation tier, grouped by design, with their texture measured.

A design group holds versions of one design (GNOME's light/dark pairs, a desktop-base theme's
renderings, MATE's colour variants) or sibling photos of one scene (an image sequence); the hard
tier indexes a group as a near-identical pair, or one original plus its other versions and
siblings as distractors, and never splits a group. A source the base tier uses keeps the base
tier's split (`base_tier_splits`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from factcheck.core.features import extract_features
from factcheck.core.fingerprints import hamming_distance, pdq_hash
from factcheck.evaluation.evalcases import (
    MIN_PDQ_QUALITY,
    MIN_SOURCE_KEYPOINTS,
    NEAR_DUPLICATE_BITS,
    TUNE_FRACTION,
    Prepared,
    default_sources,
    prepare_sources,
)
from factcheck.evaluation.evaldistractors import LOW_KINDS, procedural_image
from factcheck.evaluation.evalsources import (
    ALLOWED_SYSTEM_DIRS,
    GNOME_BACKGROUNDS_DIR,
    HARD_IMAGE_SUFFIXES,
    IMAGE_SUFFIXES,
    MIN_SOURCE_SIDE,
    Source,
    design_group,
    family_of,
    generated_sources,
    iter_system_images,
    limit_size,
    load_hard_image,
    skimage_sources,
    sklearn_sources,
    stable_fraction,
)

MAX_GROUP_MEMBERS = 4  # a desktop-base theme has ~20 renderings of one design; 4 are enough
BLANK_STD = 3.0  # grey-level spread under which a picture is blank (no one fact-checks it)
SAME_PICTURE_DIFF = 4.0  # mean |difference| of 32x32 thumbnails: one picture, two resolutions
SAME_ASPECT = 0.02
SYSTEM_SHARE = "/usr/share"


@dataclass(frozen=True)
class DesignSource:
    source: Source
    group: str  # versions of one design, or sibling photos of one scene, share a group
    versions: bool  # the group's members are versions of one design, not sibling photos
    kind: str  # where it comes from (skimage, gnome, procedural-fog, ...)
    sibling: Callable[[], np.ndarray] | None = None  # another picture of the same design


@dataclass(frozen=True)
class Member:
    design: DesignSource
    image: np.ndarray
    texture: str  # "low" when the base tier would drop it as featureless
    pdq_bits: np.ndarray
    pdq_quality: int

    @property
    def name(self) -> str:
        return self.design.source.name

    @property
    def prepared(self) -> Prepared:
        return Prepared(self.name, self.design.group, self.image)


def hard_sources(generated: int, generated_low: int, seed: int) -> list[DesignSource]:
    """Every source of the hard tier, in a fixed order."""
    designs = [DesignSource(s, s.family, False, "skimage") for s in skimage_sources()]
    designs += [DesignSource(s, s.family, False, "sklearn") for s in sklearn_sources()]
    roots = (*ALLOWED_SYSTEM_DIRS, GNOME_BACKGROUNDS_DIR)
    for path in iter_system_images(roots, HARD_IMAGE_SUFFIXES):
        kind = next(k for k in ("gnome", "mate", "desktop-base", "opencv") if k in str(path))
        name = _system_name(path)
        source = Source(name, f"sys-{family_of(path.name)}", partial(load_hard_image, path))
        designs.append(DesignSource(source, design_group(path), kind != "opencv", kind))
    designs += [
        DesignSource(s, s.family, False, "procedural") for s in generated_sources(generated, seed)
    ]
    for index in range(generated_low):
        kind = LOW_KINDS[index % len(LOW_KINDS)]
        name, value = f"low-{kind}-{seed}-{index}", seed * 100_003 + index
        designs.append(
            DesignSource(
                Source(name, name, partial(procedural_image, kind, value)),
                name,
                False,
                f"procedural-{kind}",
                sibling=partial(procedural_image, kind, value, sibling=1),
            )
        )
    return designs


def _system_name(path: Path) -> str:
    """The base tier's name for a file it reads too (so its split can be looked up); the full
    path for the rest (desktop-base's themes share their SVGs' file names)."""
    if path.suffix.lower() in IMAGE_SUFFIXES and str(path).startswith(ALLOWED_SYSTEM_DIRS):
        return "sys-" + "-".join(path.parts[-3:])
    return "sys-" + "-".join(path.relative_to(SYSTEM_SHARE).parts)


def base_tier_splits(generated: int, seed: int) -> dict[str, str]:
    """{source name: split} of every source the base tier uses."""
    prepared, _ = prepare_sources(default_sources(generated, seed))
    return {
        p.name: "tune" if stable_fraction(p.family, seed) < TUNE_FRACTION else "test"
        for p in prepared
    }


def _thumbnail(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def _same_picture(a: Member | np.ndarray, b: Member) -> bool:
    image = a.image if isinstance(a, Member) else a
    aspect_a = image.shape[1] / image.shape[0]
    aspect_b = b.image.shape[1] / b.image.shape[0]
    if abs(aspect_a / aspect_b - 1) > SAME_ASPECT:
        return False
    return float(np.abs(_thumbnail(image) - _thumbnail(b.image)).mean()) < SAME_PICTURE_DIFF


def measured_member(design: DesignSource, image: np.ndarray) -> Member:
    fingerprint = pdq_hash(image)
    low = (
        fingerprint.quality < MIN_PDQ_QUALITY or len(extract_features(image)) < MIN_SOURCE_KEYPOINTS
    )
    return Member(
        design, image, "low" if low else "textured", fingerprint.bits, fingerprint.quality
    )


def _duplicate(candidate: Member, kept: list[Member]) -> bool:
    """The same picture as a kept member; across design groups also a PDQ near-duplicate (only
    trusted when both hashes are of usable quality: smooth images hash alike)."""
    for other in kept:
        if _same_picture(candidate, other):
            return True
        if (
            other.design.group != candidate.design.group
            and min(other.pdq_quality, candidate.pdq_quality) >= MIN_PDQ_QUALITY
            and hamming_distance(other.pdq_bits, candidate.pdq_bits) <= NEAR_DUPLICATE_BITS
        ):
            return True
    return False


def prepare_groups(
    designs: list[DesignSource], base_splits: dict[str, str], seed: int
) -> tuple[dict[str, list[Member]], dict[str, str], Counter[str]]:
    """(members per group, split per group, skipped counts). Within a group the base tier's
    sources come first, then the rest in a seeded order, up to MAX_GROUP_MEMBERS kept."""
    groups: dict[str, list[DesignSource]] = {}
    for design in designs:
        groups.setdefault(design.group, []).append(design)
    kept_all: list[Member] = []
    members: dict[str, list[Member]] = {}
    splits: dict[str, str] = {}
    skipped: Counter[str] = Counter()
    for group, group_designs in groups.items():
        used = {base_splits[d.source.name] for d in group_designs if d.source.name in base_splits}
        if len(used) > 1:  # the base tier itself has this design in both splits
            skipped["straddling"] += len(group_designs)
            continue
        fallback = "tune" if stable_fraction(group, seed) < TUNE_FRACTION else "test"
        splits[group] = used.pop() if used else fallback
        order = sorted(
            group_designs,
            key=lambda d: (
                d.source.name not in base_splits,
                stable_fraction("order:" + d.source.name, seed),
            ),
        )
        kept: list[Member] = []
        for design in order:
            if len(kept) >= MAX_GROUP_MEMBERS:
                break
            try:
                image = design.source.load()
            except (ValueError, OSError):
                skipped["unreadable"] += 1
                continue
            if min(image.shape[:2]) < MIN_SOURCE_SIDE:
                skipped["small"] += 1
                continue
            if float(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).std()) < BLANK_STD:
                skipped["blank"] += 1
                continue
            member = measured_member(design, limit_size(image))
            if _duplicate(member, kept_all):
                skipped["duplicate"] += 1
                continue
            kept.append(member)
            kept_all.append(member)
        if kept:
            members[group] = kept
    return members, splits, skipped
