"""Evaluation of fact-check retrieval, apart from the inference core (which never imports it).

Modules:
    evalsources      allowed image sources (library samples, Debian packages), generated images
    evaledits        edits and transforms applied to originals, with their masks
    evallowtexture   low-texture generators (fog, illustrations, text cards)
    evaldistractors  near-duplicate and procedural distractors
    evalcases        base-tier case generator (`python -m factcheck.evaluation.evalcases`)
    evalhardsources  hard-tier sources and design groups; evalhard: hard-tier case generator
    evaluate         evaluator of a case directory (`manage.py evaluate_factcheck`)
    pdq_reach        PDQ distances of copies to their originals, per class
    bench            index latency and recall benchmarks (`python -m factcheck.evaluation.bench`)
"""
