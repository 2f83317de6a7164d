import json
from functools import partial

import cv2
import numpy as np

from factcheck.core.index import BinaryIndexConfig
from factcheck.evaluation.bench import bench_clip, bench_pdq
from factcheck.evaluation.evalcases import generate_cases
from factcheck.evaluation.evalsources import Source, family_of, generated_image, skimage_sources
from factcheck.evaluation.evaluate import evaluate, format_table


def _sources() -> list[Source]:
    picked = {s.name: s for s in skimage_sources()}
    chosen = [
        picked[n]
        for n in ("skimage-astronaut", "skimage-coffee", "skimage-rocket", "skimage-chelsea")
    ]
    generated = [
        Source(f"g{i}", f"g{i}", partial(generated_image, i, (384, 512))) for i in range(4)
    ]
    return chosen + generated


def _generate(tmp_path, split: str):
    return generate_cases(
        tmp_path / split,
        split=split,
        seed=3,
        sources=_sources(),
        transforms=["crop", "caption"],
        edits=["splice", "text"],
    )


def test_family_grouping():
    assert family_of("left07.jpg") == family_of("left11.jpg") == "left"
    assert family_of("aloeL.jpg") == family_of("aloeR.jpg") == "aloe"
    assert family_of("Garden.jpg") == "garden"
    assert family_of("imageTextN.png") == family_of("imageTextR.png") == "imagetext"


def test_generator_is_deterministic_split_disjoint_and_masks_consistent(tmp_path):
    tune, test = _generate(tmp_path, "tune"), _generate(tmp_path, "test")
    cases = [
        json.loads(line)
        for line in (tmp_path / "test/queries/cases.jsonl").read_text().splitlines()
    ]
    tune_cases = [
        json.loads(line)
        for line in (tmp_path / "tune/queries/cases.jsonl").read_text().splitlines()
    ]
    assert tune["originals"] + tune["unrelated"] + test["originals"] + test["unrelated"] == 8
    assert not {c["source"] for c in cases} & {c["source"] for c in tune_cases}
    for case in cases:
        query = cv2.imread(str(tmp_path / "test" / case["query"]))
        if case["group"] == "edited":
            mask = cv2.imread(str(tmp_path / "test" / case["mask"]), cv2.IMREAD_GRAYSCALE)
            assert mask.shape == query.shape[:2] and set(np.unique(mask)) <= {0, 255}
            assert 0 < (mask > 0).mean() < 0.3
        else:
            assert case["mask"] is None and case["edit"] is None
        assert (case["expected"] is None) == (case["group"] == "unrelated")
    again = generate_cases(
        tmp_path / "again",
        split="test",
        seed=3,
        sources=_sources(),
        transforms=["crop", "caption"],
        edits=["splice", "text"],
    )
    assert again == test
    first = cv2.imread(str(tmp_path / "test" / cases[0]["query"]))
    assert np.array_equal(first, cv2.imread(str(tmp_path / "again" / cases[0]["query"])))


def test_evaluator_on_tiny_case_set(tmp_path):
    _generate(tmp_path, "test")
    metrics = evaluate(tmp_path / "test")
    assert metrics["queries"] > 0 and metrics["references"] > 0
    assert metrics["recall_at_1_copies"] >= 0.75
    assert metrics["false_matches_unrelated"] == 0
    assert metrics["mean_iou"] is not None and metrics["mean_iou"] > 0.3
    assert "recall_at_1_copies" in format_table(metrics)
    # A base case set has no classes: its groups are its classes, and it is the base tier.
    assert metrics["tier"] == "base" and metrics["procedural_distractors"] == 0
    assert set(metrics["per_class"]) == {"copy", "edited", "unrelated"}
    assert metrics["per_tier"]["base"]["queries"] == metrics["queries"]
    assert metrics["per_tier"]["base"]["recall_at_1_copies"] == metrics["recall_at_1_copies"]


def test_bench_tiny_sizes():
    pdq = bench_pdq(3000, n_queries=20)
    assert pdq["recall_at_1_planted"] == 1.0 and pdq["memory_bytes_per_hash"] >= 32
    mih = bench_pdq(3000, n_queries=20, config=BinaryIndexConfig(kind="mih"))
    assert mih["type"] == "mih" and mih["recall_at_10_vs_exact_within_radius"] == 1.0
    assert mih["recall_at_1_planted"] == mih["planted_within_radius"]
    clip = bench_clip(3000, dim=32, n_queries=20)
    assert clip["type"] == "flat" and clip["recall_at_10_vs_exact"] == 1.0


def test_pdq_reach_of_copies(tmp_path):
    from factcheck.evaluation.pdq_reach import pdq_reach

    generate_cases(
        tmp_path / "cases",
        split="test",
        seed=3,
        sources=_sources(),
        transforms=["crop", "caption"],
        edits=[],
    )
    reach = pdq_reach(tmp_path / "cases", [31, 256])
    assert set(reach) == {"all", "copy:crop", "copy:caption"}
    assert reach["all"]["within_256"] == 1.0 and reach["all"]["n"] > 0
    assert reach["copy:crop"]["within_31"] <= reach["copy:crop"]["within_256"]


def test_extra_unrelated_queries_are_procedural_never_indexed_and_differ_per_split(tmp_path):
    def cases(split: str) -> tuple[dict, list[dict]]:
        meta = generate_cases(
            tmp_path / split,
            split=split,
            seed=3,
            extra_unrelated=3,
            sources=_sources()[:2],
            transforms=["jpeg"],
            edits=[],
        )
        lines = (tmp_path / split / "queries/cases.jsonl").read_text().splitlines()
        return meta, [json.loads(line) for line in lines]

    meta, test = cases("test")
    extra = [c for c in test if c["source"].startswith("extra-test-")]
    assert meta["extra_unrelated"] == 3 and len(extra) == 3
    assert all(c["group"] == "unrelated" and c["expected"] is None for c in extra)
    originals = {p.name for p in (tmp_path / "test/originals").iterdir()}
    assert not any(c["source"] in name for c in extra for name in originals)
    _, tune = cases("tune")
    tune_extra = [c for c in tune if c["source"].startswith("extra-tune-")]
    first_test = cv2.imread(str(tmp_path / "test" / extra[0]["query"]))
    first_tune = cv2.imread(str(tmp_path / "tune" / tune_extra[0]["query"]))
    assert first_test.shape != first_tune.shape or not np.array_equal(first_test, first_tune)
