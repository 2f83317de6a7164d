"""How often dense alignment accepts an unrelated picture of the same low-texture kind.

    python scripts/dense_unrelated.py [--kinds fog gradient ...] [--references 200] [--queries 40]
        [--chains] [--fog-mode dusk_water]

For each kind of the evaluation's low-texture generators (factcheck.evaluation.evallowtexture),
index --references pictures and query with --queries other pictures of that kind (seeds of
neither the case generators nor the test split's distractors), JPEG quality 70. As in
production, the learned descriptor proposes candidates (query and mirror) and the top 3 get a
dense check (factcheck.core.dense.dense_verify). Every acceptance is an unrelated picture that
dense alignment would have called the original; a `confirmable` one (fine detail agrees across
the picture) would confirm a match with the embedding's lead, an `exact` one on its own
(factcheck.core.dense); `edit_fits` counts the checks, accepted or not, that would confirm
with the lead as an edited copy (factcheck.core.dense.edit_fits), and `confirmed` those the
matcher's rule confirms with the candidate's actual lead (factcheck.core.matcher.dense_confirms):
false matches. With --chains, each query also goes through the hard tier's probe chain (mirror,
crop, downscale, JPEG 30-45). With --fog-mode, the fog kind's references and queries are all of
that mode (factcheck.evaluation.evallowtexture.FOG_MODES): a stress set of one kind of scene.
Prints JSON per kind: checks, acceptances, confirmable and exact acceptances, edit fits,
confirmed checks, and the highest detail, detail floor and lowest colour distance among the
acceptances; with --details, first one line per confirmable, exact or edit-fitting check.
References are regenerated from their seed when checked, so large indexes fit in memory.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from factcheck.core.dense import (
    DenseConfig,
    DenseVerification,
    confirmable,
    dense_verify,
    edit_fits,
    is_exact,
)
from factcheck.core.descriptor import Descriptor
from factcheck.core.matcher import dense_confirms
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(LOW_TEXTURE_GENERATORS))
    parser.add_argument("--references", type=int, default=200)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--chains", action="store_true")
    parser.add_argument("--fog-mode", choices=FOG_MODES, default=None)
    parser.add_argument(
        "--details",
        action="store_true",
        help="also print each confirmable, exact or edit-fitting check: its seeds, lead, scores",
    )
    args = parser.parse_args()
    descriptor = Descriptor.load()
    config = DenseConfig()
    margin = descriptor.dense_confirm_margin
    result = {}
    for kind in args.kinds:
        generate = LOW_TEXTURE_GENERATORS[kind]
        seeds = _seeds(REFERENCE_SEED, args.references, kind, args.fog_mode)
        vectors = np.concatenate(
            [
                descriptor.describe([generate(seed, 0) for seed in seeds[i : i + EMBED_BATCH]])
                for i in range(0, len(seeds), EMBED_BATCH)
            ]
        )
        accepted, checks, confirmed, edit_fitting = [], 0, 0, 0
        for index, seed in enumerate(_seeds(QUERY_SEED, args.queries, kind, args.fog_mode)):
            picture = generate(seed, 0)
            queries = [jpeg(picture, 70)]
            if args.chains:
                queries += [_probe_chain(picture, np.random.default_rng([QUERY_SEED, index]))]
            for query in queries:
                views = descriptor.describe([query, np.ascontiguousarray(query[:, ::-1])])
                similarity = (views @ vectors.T).max(axis=0)
                ranked = np.argsort(-similarity)
                baseline = similarity[ranked[config.margin_rank]]
                for candidate in ranked[: config.max_candidates]:
                    checks += 1
                    reference = generate(seeds[int(candidate)], 0)
                    dense = dense_verify(query, reference, config)
                    if dense.accepted:
                        accepted.append(dense)
                    edit_fitting += edit_fits(dense, config)
                    lead = float(similarity[candidate] - baseline)
                    confirmed += dense_confirms(dense, lead, config, margin)
                    if args.details and (
                        confirmable(dense, config)
                        or is_exact(dense, config)
                        or edit_fits(dense, config)
                    ):
                        print(json.dumps(_detail(kind, seed, seeds[int(candidate)], lead, dense)))
        result[kind] = {
            "checks": checks,
            "accepted": len(accepted),
            "confirmable": sum(confirmable(dense, config) for dense in accepted),
            "exact": sum(is_exact(dense, config) for dense in accepted),
            "edit_fits": edit_fitting,
            "confirmed": confirmed,
            "max_detail": round(max((d.detail for d in accepted), default=0.0), 4),
            "max_detail_floor": round(max((d.detail_floor for d in accepted), default=0.0), 4),
            "min_colour": round(min((d.colour for d in accepted), default=0.0), 4),
        }
        print(json.dumps({kind: result[kind]}), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
