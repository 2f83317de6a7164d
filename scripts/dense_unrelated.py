"""How often dense alignment accepts an unrelated picture of the same low-texture kind.

    python scripts/dense_unrelated.py [--kinds fog gradient ...] [--references 200] [--queries 40]
        [--chains] [--fog-mode dusk_water] [--caption "NOT WHAT IT SEEMS"] [--siblings]
    python scripts/dense_unrelated.py --census 60

For each kind of the evaluation's low-texture generators (factcheck.evaluation.evallowtexture),
index --references pictures and query with --queries other pictures of that kind (seeds of
neither the case generators nor the test split's distractors), JPEG quality 70. As in
production, the learned descriptor proposes candidates (query and mirror) and the top 3 get a
dense check (factcheck.core.dense.dense_verify), the next 3 one that confirms only when exact
(`exact_only_checks`, DenseConfig.max_exact_only: the matcher runs them where none of the top 3
confirmed, as here, where every candidate is unrelated). Every acceptance is an unrelated
picture that dense alignment would have called the original; a `confirmable` one (fine detail
agrees across the picture) would confirm a match with the embedding's lead, an `exact` one on
its own (factcheck.core.dense); `edit_fits` counts the checks, accepted or not, that would
confirm with the lead as an edited copy (factcheck.core.dense.edit_fits), `exact_but_edited` those
exact but in one part (what DenseConfig.edited_confirms would confirm), and `confirmed` those
the matcher's rule confirms with the candidate's actual lead
(factcheck.core.matcher.dense_confirms): false matches. With --chains, each query also goes
through the hard tier's probe chain (mirror, crop, downscale, JPEG 30-45). With --fog-mode, the
fog kind's references and queries are all of that mode
(factcheck.evaluation.evallowtexture.FOG_MODES): a stress set of one kind of scene. With
--caption, every reference and query carries those words across its upper part (one meme
caption on unrelated pictures): where local features then match in the words only
(verify.CONCENTRATED), the candidate also gets the matcher's alignment from their fit
(`anchored`, `anchored_confirmed`: factcheck.core.matcher._dense_pass). With --siblings, the
index holds another version of each design (the generator's sibling 1: same palette and size,
other layout) and the queries are the first designs' sibling 0: one picture's near-duplicate
twin, with the picture itself not indexed.
Prints JSON per kind: checks, acceptances, confirmable and exact acceptances, edit fits,
confirmed checks (with --caption, anchored checks and those confirmed too), and the highest
detail, detail floor and lowest colour distance among the acceptances; with --details, first
one line per confirmable, exact or edit-fitting check.
References are regenerated from their seed when checked, so large indexes fit in memory.
With --census N, prints instead, per kind, the quantiles of the fine-detail level
(factcheck.core.dense.detail_level) of N reference pictures and the share that dense alignment
judges as smooth (under DenseConfig.smooth_detail).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import cv2
import numpy as np

from factcheck.core.dense import (
    DenseConfig,
    DenseVerification,
    confirmable,
    dense_verify,
    detail_level,
    edit_fits,
    exact_but_edited,
    is_exact,
)
from factcheck.core.descriptor import Descriptor
from factcheck.core.features import (
    FeatureConfig,
    extract_features,
    mirror_features,
    mirror_matrix,
)
from factcheck.core.matcher import dense_confirms
from factcheck.core.verify import CONCENTRATED, verify
from factcheck.evaluation.evaledits import HARD_CHAINS, jpeg
from factcheck.evaluation.evallowtexture import FOG_MODES, LOW_TEXTURE_GENERATORS, fog_mode
from factcheck.evaluation.evaluate import EMBED_BATCH

REFERENCE_SEED = 800_000_000
QUERY_SEED = 810_000_000


def _probe_chain(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirrored, cropped, downscaled and JPEG 30-45, as the hard tier's probe chain."""
    no_mask = np.zeros(picture.shape[:2], np.uint8)
    image, _, quality = HARD_CHAINS["probe_chain"](picture, no_mask, rng)
    return jpeg(image, quality or 70)


def _captioned(picture: np.ndarray, words: str) -> np.ndarray:
    """`words` in white across the picture, their baseline at a fifth of its height."""
    captioned = picture.copy()
    height, width = captioned.shape[:2]
    scale = 2.2 * width / 1024
    (text_width, _), _ = cv2.getTextSize(words, cv2.FONT_HERSHEY_DUPLEX, scale, 4)
    origin = (max(4, (width - text_width) // 2), height // 5)
    cv2.putText(
        captioned, words, origin, cv2.FONT_HERSHEY_DUPLEX, scale, (255,) * 3, 4, cv2.LINE_AA
    )
    return captioned


def _picture(kind: str, seed: int, caption: str | None, sibling: int = 0) -> np.ndarray:
    picture = LOW_TEXTURE_GENERATORS[kind](seed, sibling)
    return _captioned(picture, caption) if caption else picture


def _anchor(query: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    """Local features' fit (reference -> query, a mirror included) where they match in one part
    of the picture only, as the matcher keeps it; None otherwise."""
    features = FeatureConfig()
    query_features = extract_features(query, features)
    reference_features = extract_features(reference, features)
    for mirrored in (False, True):
        view = mirror_features(query_features) if mirrored else query_features
        fit = verify(view, reference_features)
        if fit.reason == CONCENTRATED and fit.transform is not None:
            return mirror_matrix(query.shape[1]) @ fit.transform if mirrored else fit.transform
    return None


def _seeds(first: int, count: int, kind: str, mode: str | None) -> list[int]:
    """`count` seeds from `first` on, of fog pictures of `mode` only when one is given."""
    seeds: list[int] = []
    seed = first
    while len(seeds) < count:
        if kind != "fog" or mode is None or fog_mode(seed) == mode:
            seeds.append(seed)
        seed += 1
    return seeds


def _detail(kind: str, query: int, reference: int, lead: float, dense: DenseVerification) -> dict:
    """One check's seeds (the picture's generator seeds), lead and scores."""
    scores = ("correlation", "detail", "colour", "overlap", "detail_floor")
    return {
        "kind": kind,
        "query_seed": query,
        "reference_seed": reference,
        "lead": round(lead, 4),
        "accepted": dense.accepted,
        **{score: round(float(getattr(dense, score)), 4) for score in scores},
        "cells": [round(cell, 3) for cell in dense.tile_details],
        "edit_share": round(dense.edit_share, 3),
        "outside_edit": _detail(kind, query, reference, lead, dense.outside_edit)
        if dense.outside_edit is not None
        else None,
    }


def _census(kinds: list[str], count: int) -> None:
    """Per kind: quantiles of the detail level of `count` reference pictures, share smooth."""
    config = DenseConfig()
    for kind in kinds:
        levels = np.array(
            [
                detail_level(_picture(kind, seed, None), config)
                for seed in _seeds(REFERENCE_SEED, count, kind, None)
            ]
        )
        quantiles = np.quantile(levels, [0.0, 0.1, 0.5, 0.9])
        census = {
            "pictures": count,
            "detail_level_min_p10_p50_p90": [round(float(q), 3) for q in quantiles],
            "smooth": round(float((levels < config.smooth_detail).mean()), 3),
        }
        print(json.dumps({kind: census}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(LOW_TEXTURE_GENERATORS))
    parser.add_argument("--references", type=int, default=200)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--chains", action="store_true")
    parser.add_argument("--fog-mode", choices=FOG_MODES, default=None)
    parser.add_argument("--caption", default=None, help="words drawn on every picture")
    parser.add_argument(
        "--siblings",
        action="store_true",
        help="query with another version of each indexed design (its generator sibling)",
    )
    parser.add_argument(
        "--details",
        action="store_true",
        help="also print each confirmable, exact or edit-fitting check: its seeds, lead, scores",
    )
    parser.add_argument("--census", type=int, default=0, help="detail levels of N pictures")
    args = parser.parse_args()
    if args.census:
        _census(args.kinds, args.census)
        return
    descriptor = Descriptor.load()
    config = DenseConfig()
    # The alignments as shipped, also scored for the rule that is off by default
    # (exact_but_edited): what it would confirm is counted, `confirmed` is the shipped rule's.
    scoring = replace(config, edited_confirms=True)
    margin = descriptor.dense_confirm_margin
    result = {}
    for kind in args.kinds:
        seeds = _seeds(REFERENCE_SEED, args.references, kind, args.fog_mode)
        vectors = np.concatenate(
            [
                descriptor.describe(
                    [
                        _picture(kind, seed, args.caption, sibling=int(args.siblings))
                        for seed in seeds[i : i + EMBED_BATCH]
                    ]
                )
                for i in range(0, len(seeds), EMBED_BATCH)
            ]
        )
        accepted, checks, further_checks, confirmed, edit_fitting = [], 0, 0, 0, 0
        edited_exact = 0
        anchored, anchored_confirmed = 0, 0
        query_seeds = _seeds(QUERY_SEED, args.queries, kind, args.fog_mode)
        if args.siblings:  # every reference's design, drawn again (seeds[:queries], sibling 0)
            query_seeds = seeds[: args.queries]
        for index, seed in enumerate(query_seeds):
            picture = _picture(kind, seed, args.caption)
            queries = [jpeg(picture, 70)]
            if args.chains:
                queries += [_probe_chain(picture, np.random.default_rng([QUERY_SEED, index]))]
            for query in queries:
                views = descriptor.describe([query, np.ascontiguousarray(query[:, ::-1])])
                similarity = (views @ vectors.T).max(axis=0)
                ranked = np.argsort(-similarity)
                baseline = similarity[ranked[config.margin_rank]]
                checked = ranked[: config.max_candidates + config.max_exact_only]
                for position, candidate in enumerate(checked):
                    further = position >= config.max_candidates  # on the exact bar alone
                    checks += 1
                    further_checks += further
                    reference = _picture(
                        kind, seeds[int(candidate)], args.caption, sibling=int(args.siblings)
                    )
                    dense = dense_verify(query, reference, scoring)
                    if dense.accepted:
                        accepted.append(dense)
                    edit_fitting += edit_fits(dense, config)
                    edited_exact += exact_but_edited(dense, scoring)
                    lead = float(similarity[candidate] - baseline)
                    confirmed += dense_confirms(dense, lead, config, None if further else margin)
                    anchor = _anchor(query, reference) if args.caption and not further else None
                    if anchor is not None:
                        anchored += 1
                        fit = dense_verify(query, reference, config, anchor)
                        anchored_confirmed += dense_confirms(fit, lead, config, margin)
                    if args.details and (
                        confirmable(dense, config)
                        or is_exact(dense, config)
                        or edit_fits(dense, config)
                        or exact_but_edited(dense, scoring)
                    ):
                        print(json.dumps(_detail(kind, seed, seeds[int(candidate)], lead, dense)))
        result[kind] = {
            "checks": checks,
            "exact_only_checks": further_checks,
            "accepted": len(accepted),
            "confirmable": sum(confirmable(dense, config) for dense in accepted),
            "exact": sum(is_exact(dense, config) for dense in accepted),
            "edit_fits": edit_fitting,
            "exact_but_edited": edited_exact,
            "confirmed": confirmed,
            "anchored": anchored,
            "anchored_confirmed": anchored_confirmed,
            "max_detail": round(max((d.detail for d in accepted), default=0.0), 4),
            "max_detail_floor": round(max((d.detail_floor for d in accepted), default=0.0), 4),
            "min_colour": round(min((d.colour for d in accepted), default=0.0), 4),
        }
        print(json.dumps({kind: result[kind]}), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
