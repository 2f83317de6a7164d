"""Procedural images by kind, and the hard tier's distractor references.

The hard tier's distractors come in families of DISTRACTOR_FAMILY_SIZE near-duplicates of each
other (the picture, a sibling of the same design or a crop, a colour grade, a crop with a small
text or logo change), half of them low-texture, so a method that confuses versions of one
design, or matches any smooth field to any other, shows it as false matches.
"""

from __future__ import annotations

import numpy as np

from factcheck.evaluation.evaledits import v_colour, v_crop, v_text_logo
from factcheck.evaluation.evallowtexture import LOW_TEXTURE_GENERATORS
from factcheck.evaluation.evalsources import generated_image

LOW_KINDS = tuple(LOW_TEXTURE_GENERATORS)
PROCEDURAL_KINDS = ("textured", *LOW_KINDS)
HARD_DISTRACTOR_SEED = 900_000_000  # far from the case generator's seeds and the base distractors'
DISTRACTOR_FAMILY_SIZE = 4


def procedural_image(kind: str, seed: int, sibling: int = 0) -> np.ndarray:
    """`textured` is the base tier's generated_image (it has no siblings: a crop stands in)."""
    if kind == "textured":
        image = generated_image(seed)
        if sibling:
            image = v_crop(image, np.random.default_rng([seed, sibling]))
        return image
    return LOW_TEXTURE_GENERATORS[kind](seed, sibling)


def hard_distractor(offset: int) -> np.ndarray:
    """Distractor reference number `offset` (deterministic)."""
    family, member = divmod(offset, DISTRACTOR_FAMILY_SIZE)
    kind = PROCEDURAL_KINDS[family % len(PROCEDURAL_KINDS)]
    seed = HARD_DISTRACTOR_SEED + family
    rng = np.random.default_rng([HARD_DISTRACTOR_SEED, offset])
    if member == 1:
        return procedural_image(kind, seed, sibling=1)
    image = procedural_image(kind, seed)
    if member == 2:
        return v_colour(image, rng)
    if member == 3:
        return v_text_logo(v_crop(image, rng), rng)
    return image
