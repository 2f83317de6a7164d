"""How often the matcher calls another picture of the same layout the original.

    python scripts/shared_layout_probe.py [--kinds text_card illustration] [--references 300]
        [--queries 60]

Quote cards share frames, fonts and glyphs; flat illustrations share shapes. For each kind of
the evaluation's low-texture generators (factcheck.evaluation.evallowtexture), index
--references pictures (PDQ, local features, the learned descriptor: as production) and query
with --queries other pictures of that kind (seeds of neither evaluation split nor
scripts/dense_unrelated.py), JPEG quality 70. No query has an original here: every match is a
false one. Each query is matched twice in the same run, with the matcher's guards against a
shared layout (VerifyConfig.max_keystone, MatchConfig.max_detail_changed) as configured and
switched off. Prints JSON per kind: queries, false matches with and without the guards.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from factcheck.core.descriptor import Descriptor
from factcheck.core.features import extract_features
from factcheck.core.fingerprints import pdq_hash
from factcheck.core.index import ClipIndex, FloatIndexConfig, PdqIndex
from factcheck.core.local_index import LocalIndex
from factcheck.core.matcher import MatchConfig, match_image
from factcheck.evaluation.evaledits import jpeg
from factcheck.evaluation.evallowtexture import LOW_TEXTURE_GENERATORS
from factcheck.evaluation.evaluate import InMemoryReferences, without_layout_guards

REFERENCE_SEED = 900_000_000
QUERY_SEED = 910_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["text_card", "illustration"])
    parser.add_argument("--references", type=int, default=300)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    descriptor = Descriptor.load()
    guarded = MatchConfig()
    unguarded = without_layout_guards(guarded)
    result = {}
    for kind in args.kinds:
        generate = LOW_TEXTURE_GENERATORS[kind]
        images = {i: generate(REFERENCE_SEED + i, 0) for i in range(args.references)}
        references = InMemoryReferences(config=guarded)
        for ref_id, image in images.items():
            references.add(ref_id, image, extract_features(image, guarded.features))
        ids = np.array(list(images))
        pdq = PdqIndex.build(np.stack([pdq_hash(im).bits for im in images.values()]), ids)
        local = LocalIndex.build({i: references.load_reference_features(i) for i in images})
        embedding = ClipIndex.build(
            descriptor.embed(list(images.values())), ids, FloatIndexConfig(dim=descriptor.dim)
        )
        counts = {"queries": args.queries, "false_matches": 0, "false_matches_unguarded": 0}
        for number in range(args.queries):
            query = jpeg(generate(QUERY_SEED + number, 0), 70)
            for config, key in ((guarded, "false_matches"), (unguarded, "false_matches_unguarded")):
                found = match_image(
                    query,
                    references=references,
                    pdq_index=pdq,
                    local_index=local,
                    embedding_index=embedding,
                    embedder=descriptor,
                    config=config,
                )
                counts[key] += bool(found.matches)
        result[kind] = counts
        print(json.dumps({kind: counts}), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
