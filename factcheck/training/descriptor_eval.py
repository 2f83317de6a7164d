"""Descriptor-only evaluation: retrieval of originals by the learned descriptor vs PDQ.

    python -m factcheck.training.descriptor_eval [--config factcheck/models/descriptor-v1.json]
        [--designs 24] [--distractor-designs 170] [--unrelated 200] [--json OUT]

Nothing here was trained on: the originals are the held-out tune-family photos
(`data.load_photos(holdout=True)`, minus any PDQ near-duplicate of a training photo) and
procedural pictures with EVAL_DESIGN_SEEDS. The `test` split is never read. The index holds the
originals plus distractors: every procedural original's siblings (same design, other details)
and a hue-rotated version of it, further procedural designs with their own siblings, textured
procedural images and the training photos. Queries are the failure classes of issue 15; each
searches with the image and its mirror (best score per reference). PDQ, the baseline, ranks
references by the smallest Hamming distance over the query's 8 dihedral hashes, the way the PDQ
index is queried; `pdq_r1_radius` also requires that distance to be within the index's radius.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import faiss
import numpy as np
import torch

from factcheck.core.descriptor import DEFAULT_CONFIG_PATH, Descriptor
from factcheck.core.fingerprints import hamming_distance, pdq_dihedral_hashes, pdq_hash
from factcheck.evaluation.evallowtexture import LOW_TEXTURE_GENERATORS
from factcheck.evaluation.evalsources import generated_image
from factcheck.training.augment import jpeg
from factcheck.training.data import hue_rotated, load_photos
from factcheck.training.procedural import EVAL_DESIGN_SEEDS, KINDS, procedural_image

Rng = np.random.Generator
EVAL_SIZE = (768, 1024)
PHOTO_SIDE = 1024
SIBLINGS = 3
NEAR_DUPLICATE_BITS = 70  # as evalcases: PDQ distance under which two photos are one picture
PDQ_RADIUS = 47  # the PDQ index's radius for the query as posted
PDQ_ROTATION_RADIUS = 35  # ... and for its 7 rotations/flips
TEXTURED_SEED = 400_000_000
EXTERNAL_SEED = 900_000
TIMING_REPEATS = 20


def _scale(image: np.ndarray, factor: float) -> np.ndarray:
    size = (max(16, round(image.shape[1] * factor)), max(16, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _crop(image: np.ndarray, rng: Rng, keep: tuple[float, float]) -> np.ndarray:
    height, width = image.shape[:2]
    keep_h, keep_w = (int(side * rng.uniform(*keep)) for side in (height, width))
    y, x = int(rng.integers(0, height - keep_h + 1)), int(rng.integers(0, width - keep_w + 1))
    return image[y : y + keep_h, x : x + keep_w]


def _mirror(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def _low_jpeg(image: np.ndarray, rng: Rng) -> np.ndarray:
    return jpeg(image, int(rng.integers(30, 46)))


def _caption(image: np.ndarray, rng: Rng) -> np.ndarray:
    height, width = image.shape[:2]
    pad = int(max(height, width) * rng.uniform(0.03, 0.1))
    out = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255,) * 3)
    band = int(out.shape[0] * 0.14)
    out = cv2.copyMakeBorder(out, 0, band, 0, 0, cv2.BORDER_CONSTANT, value=(255,) * 3)
    scale = out.shape[1] / 700
    text = "Shared photo of the day"
    cv2.putText(out, text, (pad, out.shape[0] - band // 3), 0, scale, (0, 0, 0), 2, cv2.LINE_AA)
    return jpeg(out, 80)


QUERY_CLASSES: dict[str, Callable[[np.ndarray, Rng], np.ndarray]] = {
    "plain": lambda im, r: jpeg(_scale(im, r.uniform(0.35, 0.8)), int(r.integers(45, 86))),
    "mirror": lambda im, r: jpeg(_mirror(im), 85),
    "mirror_crop": lambda im, r: jpeg(_scale(_crop(_mirror(im), r, (0.75, 0.9)), 0.7), 75),
    "downscale_jpeg": lambda im, r: _low_jpeg(_scale(im, r.uniform(0.3, 0.5)), r),
    "full_chain": lambda im, r: _low_jpeg(
        _scale(_crop(_mirror(im), r, (0.75, 0.9)), r.uniform(0.3, 0.5)), r
    ),
    "crop": lambda im, r: jpeg(_crop(im, r, (0.6, 0.85)), 75),
    "border_caption": _caption,
}
HARD_CLASSES = ("mirror_crop", "downscale_jpeg", "full_chain")


@dataclass(frozen=True)
class Item:
    name: str
    group: str  # "photo" or "lowtex" for originals; "distractor" otherwise
    image: np.ndarray


def external_low_texture(designs: int) -> tuple[list[Item], list[Item]]:
    """Originals and sibling distractors from the hard evaluation tier's own low-texture
    generators (`evallowtexture`, never trained on): a check that the descriptor did not only
    learn this package's generators."""
    originals: list[Item] = []
    near: list[Item] = []
    for kind, generate in LOW_TEXTURE_GENERATORS.items():
        for index in range(designs):
            seed = EXTERNAL_SEED + index
            originals.append(Item(f"ext-{kind}-{seed}", "lowtex_ext", generate(seed, 0)))
            for sibling in range(1, SIBLINGS):
                near.append(
                    Item(f"ext-{kind}-{seed}-sib{sibling}", "distractor", generate(seed, sibling))
                )
    return originals, near


def build_originals(designs: int, external_designs: int) -> tuple[list[Item], list[Item]]:
    """(originals, their near-duplicate distractors)."""
    training = load_photos(holdout=False)
    training_hashes = [pdq_hash(photo.image).bits for photo in training]
    originals: list[Item] = []
    for photo in load_photos(holdout=True, max_side=PHOTO_SIDE):
        bits = pdq_hash(photo.image).bits
        if min(hamming_distance(bits, other) for other in training_hashes) > NEAR_DUPLICATE_BITS:
            originals.append(Item(photo.name, "photo", photo.image))
    near: list[Item] = []
    rng = np.random.default_rng(7)
    for kind in KINDS:
        for index in range(designs):
            design = EVAL_DESIGN_SEEDS[0] + index
            image = procedural_image(kind, design, 0, EVAL_SIZE)
            originals.append(Item(f"{kind}-{design}", "lowtex", image))
            for sibling in range(1, SIBLINGS + 1):
                near.append(
                    Item(
                        f"{kind}-{design}-sib{sibling}",
                        "distractor",
                        procedural_image(kind, design, sibling, EVAL_SIZE),
                    )
                )
            near.append(Item(f"{kind}-{design}-hue", "distractor", hue_rotated(image, rng)))
    external, external_near = external_low_texture(external_designs)
    return originals + external, near + external_near


def build_distractors(designs: int, offset: int) -> list[Item]:
    items: list[Item] = [
        Item(photo.name, "distractor", photo.image) for photo in load_photos(holdout=False)
    ]
    for kind in KINDS:
        for index in range(designs):
            design = EVAL_DESIGN_SEEDS[0] + offset + index
            for variant in (0, 1):
                items.append(
                    Item(
                        f"{kind}-{design}-v{variant}",
                        "distractor",
                        procedural_image(kind, design, variant, EVAL_SIZE),
                    )
                )
    for index in range(designs // 2):
        seed = TEXTURED_SEED + index
        items.append(Item(f"textured-{seed}", "distractor", generated_image(seed, EVAL_SIZE)))
    return items


def build_unrelated(count: int, offset: int) -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    images = []
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        design = EVAL_DESIGN_SEEDS[0] + offset + index
        image = procedural_image(kind, design, 0, EVAL_SIZE)
        name = list(QUERY_CLASSES)[index % len(QUERY_CLASSES)]
        images.append(QUERY_CLASSES[name](image, rng))
    return images


def descriptor_scores(
    descriptor: Descriptor, index_vectors: np.ndarray, queries: list[np.ndarray]
) -> np.ndarray:
    """(Q, N) best inner product per reference over the query and its mirror. A flat search
    over every reference: exact, and small enough here to rank all of them."""
    index = faiss.IndexFlatIP(index_vectors.shape[1])
    index.add(index_vectors)
    both = descriptor.describe_with_mirror(queries)
    count = len(queries)
    scores, ids = index.search(both.reshape(2 * count, -1), index.ntotal)
    full = np.empty((2 * count, index.ntotal), np.float32)
    np.put_along_axis(full, ids, scores, axis=1)
    return np.maximum(full[0::2], full[1::2])


def pdq_distances(
    index_hashes: np.ndarray, queries: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(Q, N) smallest Hamming distance over the query's 8 dihedral hashes, and whether it is
    within the PDQ index's radius (47 as posted, 35 for a rotation/flip)."""
    distances = np.empty((len(queries), len(index_hashes)), np.int32)
    within = np.empty_like(distances, dtype=bool)
    for row, query in enumerate(queries):
        hashes, _ = pdq_dihedral_hashes(query)
        xor = np.bitwise_xor(hashes[:, None, :], index_hashes[None, :, :])
        per_hash = np.unpackbits(xor, axis=2).sum(axis=2)  # (8, N)
        distances[row] = per_hash.min(axis=0)
        within[row] = (per_hash[0] <= PDQ_RADIUS) | (per_hash[1:] <= PDQ_ROTATION_RADIUS).any(0)
    return distances, within


def _rank_metrics(better: np.ndarray) -> dict[str, float]:
    """`better[q]`: how many references beat the true one for query q."""
    return {
        "r1": round(float((better < 1).mean()), 3),
        "r10": round(float((better < 10).mean()), 3),
    }


def _percentiles(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {}
    points = (0, 1, 5, 50, 95, 99, 100)
    return {f"p{p}": round(float(np.percentile(values, p)), 4) for p in points}


def time_descriptor(descriptor: Descriptor) -> float:
    """Median ms to describe one 1024 x 768 image (resize included) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    image = procedural_image("abstract", EVAL_DESIGN_SEEDS[1] - 1, 0, EVAL_SIZE)
    descriptor.describe([image])
    samples = []
    for _ in range(TIMING_REPEATS):
        began = time.perf_counter()
        descriptor.describe([image])
        samples.append((time.perf_counter() - began) * 1000)
    torch.set_num_threads(threads)
    return round(float(np.median(samples)), 2)


def evaluate(
    config: Path,
    designs: int,
    distractor_designs: int,
    unrelated_count: int,
    external_designs: int = 0,
) -> dict[str, Any]:
    descriptor = Descriptor.load(config)
    originals, near = build_originals(designs, external_designs)
    references = originals + near + build_distractors(distractor_designs, offset=designs)
    unrelated = build_unrelated(unrelated_count, offset=designs + distractor_designs)
    vectors = descriptor.describe([item.image for item in references])
    hashes = np.stack([pdq_hash(item.image).bits for item in references])
    rng = np.random.default_rng(2026)
    queries, truth, labels = [], [], []
    for position, original in enumerate(originals):
        for name, make in QUERY_CLASSES.items():
            queries.append(make(original.image, rng))
            truth.append(position)
            labels.append((name, original.group))
    truth_array = np.asarray(truth)
    rows = np.arange(len(queries))
    scores = descriptor_scores(descriptor, vectors, queries + unrelated)
    true_scores = scores[rows, truth_array]
    descriptor_better = (scores[: len(queries)] > true_scores[:, None]).sum(axis=1)
    unrelated_best = scores[len(queries) :].max(axis=1)
    threshold = float(unrelated_best.max()) if len(unrelated_best) else 1.0
    distances, within = pdq_distances(hashes, queries)
    true_distances = distances[rows, truth_array]
    pdq_better = (distances < true_distances[:, None]).sum(axis=1)
    pdq_radius_hit = (pdq_better < 1) & within[rows, truth_array]
    per_class: dict[str, Any] = {}
    for name in QUERY_CLASSES:
        for group in ("lowtex", "lowtex_ext", "photo", "all"):
            chosen = np.asarray([n == name and group in (g, "all") for n, g in labels])
            if not chosen.any():
                continue
            descriptor_rank = _rank_metrics(descriptor_better[chosen])
            pdq_rank = _rank_metrics(pdq_better[chosen])
            per_class[f"{name}/{group}"] = {
                "queries": int(chosen.sum()),
                "descriptor_r1": descriptor_rank["r1"],
                "descriptor_r10": descriptor_rank["r10"],
                "descriptor_r1_above_unrelated": round(
                    float(
                        ((descriptor_better[chosen] < 1) & (true_scores[chosen] > threshold)).mean()
                    ),
                    3,
                ),
                "pdq_r1": pdq_rank["r1"],
                "pdq_r10": pdq_rank["r10"],
                "pdq_r1_radius": round(float(pdq_radius_hit[chosen].mean()), 3),
            }
    return {
        "config": str(config),
        "references": len(references),
        "originals": {
            group: sum(o.group == group for o in originals)
            for group in ("photo", "lowtex", "lowtex_ext")
        },
        "distractors": len(references) - len(originals),
        "queries": len(queries),
        "unrelated_queries": len(unrelated),
        "per_class": per_class,
        "scores": {
            "true_match": _percentiles(true_scores),
            "unrelated_best": _percentiles(unrelated_best),
            "threshold_max_unrelated": round(threshold, 4),
        },
        "descriptor_ms_per_1024px_image_1_thread": time_descriptor(descriptor),
    }


TABLE_COLUMNS = (
    ("descriptor_r1", "desc r@1"),
    ("descriptor_r10", "r@10"),
    ("descriptor_r1_above_unrelated", "r@1>thr"),
    ("pdq_r1", "PDQ r@1"),
    ("pdq_r10", "r@10"),
    ("pdq_r1_radius", "r@1 rad"),
)


def print_table(result: dict[str, Any]) -> None:
    header = "".join(f"{title:>9}" for _, title in TABLE_COLUMNS)
    print(f"{'class/group':26} {'n':>4}{header}")
    for name, row in result["per_class"].items():
        cells = "".join(f"{row[key]:9.3f}" for key, _ in TABLE_COLUMNS)
        print(f"{name:26} {row['queries']:4d}{cells}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Descriptor-only retrieval evaluation vs PDQ.")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG_PATH)
    parser.add_argument("--designs", type=int, default=24, help="procedural originals per kind")
    parser.add_argument("--distractor-designs", type=int, default=80, help="per kind, x2 variants")
    parser.add_argument("--unrelated", type=int, default=200)
    parser.add_argument(
        "--external-designs", type=int, default=8, help="per kind, from evallowtexture"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = evaluate(
        args.config, args.designs, args.distractor_designs, args.unrelated, args.external_designs
    )
    print_table(result)
    summary = {k: v for k, v in result.items() if k != "per_class"}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
