"""How often dense alignment accepts an unrelated picture of the same low-texture kind.

    python scripts/dense_unrelated.py [--kinds fog gradient ...] [--references 200] [--queries 40]

For each kind of the evaluation's low-texture generators (factcheck.evaluation.evallowtexture),
index --references pictures and query with --queries other pictures of that kind (seeds of
neither the case generators nor the test split's distractors), JPEG quality 70. As in
production, the learned descriptor proposes candidates (query and mirror) and the top 3 get a
dense check (factcheck.core.dense.dense_verify). Every acceptance is an unrelated picture that
dense alignment would have called the original. Prints JSON per kind: checks and acceptances.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from factcheck.core.dense import dense_verify
from factcheck.core.descriptor import Descriptor
from factcheck.evaluation.evaledits import jpeg
from factcheck.evaluation.evallowtexture import LOW_TEXTURE_GENERATORS

REFERENCE_SEED = 800_000_000
QUERY_SEED = 810_000_000
DENSE_CHECKS = 3  # MatchConfig's DenseConfig.max_candidates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(LOW_TEXTURE_GENERATORS))
    parser.add_argument("--references", type=int, default=200)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    descriptor = Descriptor.load()
    result = {}
    for kind in args.kinds:
        generate = LOW_TEXTURE_GENERATORS[kind]
        references = [generate(REFERENCE_SEED + i, 0) for i in range(args.references)]
        vectors = descriptor.describe(references)
        accepted = checks = 0
        for index in range(args.queries):
            query = jpeg(generate(QUERY_SEED + index, 0), 70)
            views = descriptor.describe([query, np.ascontiguousarray(query[:, ::-1])])
            similarity = (views @ vectors.T).max(axis=0)
            for candidate in np.argsort(-similarity)[:DENSE_CHECKS]:
                checks += 1
                accepted += dense_verify(query, references[candidate]).accepted
        result[kind] = {"checks": checks, "accepted": accepted}
        print(json.dumps({kind: result[kind]}), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
