"""evaluate_factcheck and generate_factcheck_cases: thin commands, clear errors."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from factcheck.core.evalcases import generate_cases
from factcheck.core.evalhard import generate_hard_cases
from factcheck.core.evalhardsources import DesignSource
from factcheck.core.evallowtexture import fog_image
from factcheck.core.evalsources import Source, generated_image


def tiny_case_set(out) -> None:  # type: ignore[no-untyped-def]
    sources = [
        Source(f"g{i}", f"g{i}", lambda i=i: generated_image(100 + i, (300, 400))) for i in range(8)
    ]
    generate_cases(out, split="test", seed=1, sources=sources, transforms=["resize"], edits=[])


def test_evaluate_factcheck_prints_the_metrics(tmp_path) -> None:
    tiny_case_set(tmp_path / "cases")
    out = StringIO()
    call_command(
        "evaluate_factcheck", str(tmp_path / "cases"), "--json", "--limit", "3", stdout=out
    )
    metrics = json.loads(out.getvalue())
    assert metrics["queries"] == 3
    assert {"recall_at_1_copies", "false_match_rate_unrelated", "latency_ms_p50"} <= set(metrics)
    table = StringIO()
    call_command("evaluate_factcheck", str(tmp_path / "cases"), "--limit", "1", stdout=table)
    assert "recall_at_1_copies" in table.getvalue()


@pytest.mark.parametrize("layout", ["missing", "empty", "no_cases"])
def test_evaluate_factcheck_refuses_what_is_not_a_case_set(tmp_path, layout) -> None:
    target = tmp_path / "cases"
    if layout != "missing":
        target.mkdir()
    if layout == "no_cases":
        (target / "originals").mkdir()
        (target / "queries").mkdir()
        (target / "queries" / "cases.jsonl").write_text("")
        tiny_png = tmp_path / "cases" / "originals" / "a.png"
        tiny_png.write_bytes(b"")
    expected = {"missing": "no such directory", "empty": "generate", "no_cases": "no cases"}
    with pytest.raises(CommandError, match=expected[layout]):
        call_command("evaluate_factcheck", str(target))


def test_evaluate_factcheck_refuses_negative_distractors(tmp_path) -> None:
    with pytest.raises(CommandError, match="--distractors"):
        call_command("evaluate_factcheck", str(tmp_path), "--distractors", "-1")


def test_generate_factcheck_cases_refuses_a_non_empty_directory(tmp_path) -> None:
    (tmp_path / "keep.txt").write_text("someone's file")
    with pytest.raises(CommandError, match="not empty"):
        call_command("generate_factcheck_cases", str(tmp_path), "--split", "test")
    assert (tmp_path / "keep.txt").read_text() == "someone's file"


def test_generate_factcheck_cases_refuses_generated_low_on_the_base_tier(tmp_path) -> None:
    with pytest.raises(CommandError, match="--generated-low applies to --tier hard only"):
        call_command(
            "generate_factcheck_cases",
            str(tmp_path / "out"),
            "--split",
            "test",
            "--generated-low",
            "3",
        )
    with pytest.raises(CommandError, match="--generated-low must be 0 or more"):
        call_command(
            "generate_factcheck_cases",
            str(tmp_path / "out"),
            "--split",
            "test",
            "--tier",
            "hard",
            "--generated-low",
            "-1",
        )


def test_evaluate_factcheck_on_a_hard_tier_uses_its_default_distractors(tmp_path) -> None:
    """A hard case set names its own distractor count; the command uses it unless told."""
    sources = [
        DesignSource(
            Source(f"low-fog-{i}", f"low-fog-{i}", lambda i=i: fog_image(200 + i)),
            f"low-fog-{i}",
            False,
            "procedural-fog",
        )
        for i in range(6)
    ]
    out = tmp_path / "hard"
    generate_hard_cases(out, split="test", seed=1, sources=sources, edits=[])
    meta = json.loads((out / "meta.json").read_text())
    meta["default_distractors"] = 3  # the real 1,000 take minutes
    (out / "meta.json").write_text(json.dumps(meta))
    printed = StringIO()
    call_command("evaluate_factcheck", str(out), "--json", "--limit", "4", stdout=printed)
    metrics = json.loads(printed.getvalue())
    assert metrics["tier"] == "hard" and metrics["procedural_distractors"] == 3
    assert "low_texture" in metrics["per_class"] and "hard" in metrics["per_tier"]
    assert {"recall_at_1_copies", "false_match_rate_unrelated", "latency_ms_p50"} <= set(metrics)
    table = StringIO()
    call_command("evaluate_factcheck", str(out), "--limit", "2", "--distractors", "0", stdout=table)
    assert "per_class" in table.getvalue()
    assert re.search(r"^procedural_distractors +0$", table.getvalue(), re.MULTILINE)
