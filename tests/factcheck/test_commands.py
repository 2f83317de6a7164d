"""evaluate_factcheck and generate_factcheck_cases: thin commands, clear errors."""

import io
import json
import re
from functools import partial
from io import StringIO

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image

from factcheck.evaluation import evaluate as evaluate_module
from factcheck.evaluation.evalcases import generate_cases
from factcheck.evaluation.evalhard import generate_hard_cases
from factcheck.evaluation.evalhardsources import DesignSource
from factcheck.evaluation.evallowtexture import fog_image
from factcheck.evaluation.evalsources import Source, generated_image
from factcheck.indexing import EMBEDDING_INDEX, indexed_reference_ids
from factcheck.models import Reference
from factcheck.services import reference_add


def tiny_case_set(out) -> None:
    sources = [
        Source(f"g{i}", f"g{i}", partial(generated_image, 100 + i, (300, 400))) for i in range(8)
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
    true_matches = metrics["detail_changed_of_true_matches"]
    assert set(true_matches) == {"copies", "edited"} and set(true_matches["copies"]) == {
        "p99",
        "max",
    }
    table = StringIO()
    call_command("evaluate_factcheck", str(tmp_path / "cases"), "--limit", "1", stdout=table)
    assert "recall_at_1_copies" in table.getvalue()


def test_evaluate_factcheck_compares_without_the_layout_guards(tmp_path, monkeypatch) -> None:
    tiny_case_set(tmp_path / "cases")
    configs = []
    real = evaluate_module.evaluate

    def recorded(*args, **kwargs):
        configs.append(kwargs["config"])
        return real(*args, **kwargs)

    monkeypatch.setattr("factcheck.management.commands.evaluate_factcheck.evaluate", recorded)
    for flags in ([], ["--without-layout-guards"]):
        call_command(
            "evaluate_factcheck", str(tmp_path / "cases"), "--json", "--limit", "1", *flags,
            stdout=StringIO(),
        )  # fmt: skip
    guarded, unguarded = configs
    assert guarded.max_detail_changed < 1 and guarded.verify.max_keystone < 2
    assert unguarded.max_detail_changed == unguarded.verify.max_keystone == float("inf")


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


def test_evaluate_factcheck_refuses_a_cache_that_is_not_a_folder(tmp_path) -> None:
    tiny_case_set(tmp_path / "cases")
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a folder")
    with pytest.raises(CommandError, match="--cache"):
        call_command(
            "evaluate_factcheck", str(tmp_path / "cases"), "--limit", "1",
            "--cache", str(blocker), stdout=StringIO(),
        )  # fmt: skip
    assert blocker.read_text() == "a file, not a folder"


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
            Source(f"low-fog-{i}", f"low-fog-{i}", partial(fog_image, 200 + i)),
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


# -- the global embedding: evaluate_factcheck --no-embedding, embed_references -----------------

TINY_DESCRIPTOR_TAG = "tiny-test-descriptor/0.1.0"


def test_evaluate_factcheck_names_the_embedding_it_used(
    tmp_path, embedding_off, tiny_descriptor, tiny_clip_model
) -> None:
    tiny_case_set(tmp_path / "cases")
    embedding_off.FACTCHECK_DESCRIPTOR_CONFIG = str(tiny_descriptor)
    arguments = [str(tmp_path / "cases"), "--json", "--limit", "2", "--distractors", "0"]
    printed = StringIO()
    call_command("evaluate_factcheck", *arguments, stdout=printed)
    assert json.loads(printed.getvalue())["embedding"] == TINY_DESCRIPTOR_TAG
    printed = StringIO()
    call_command("evaluate_factcheck", *arguments, "--no-embedding", stdout=printed)
    assert json.loads(printed.getvalue())["embedding"] is None
    embedding_off.CLIP_MODEL_NAME = tiny_clip_model
    embedding_off.CLIP_ALLOW_RANDOM_INIT = True
    printed = StringIO()
    call_command("evaluate_factcheck", *arguments, stdout=printed)
    assert json.loads(printed.getvalue())["embedding"] == tiny_clip_model


def test_evaluate_factcheck_refuses_a_descriptor_that_cannot_load(tmp_path, embedding_off) -> None:
    tiny_case_set(tmp_path / "cases")
    embedding_off.FACTCHECK_DESCRIPTOR_CONFIG = str(tmp_path / "nothing.json")
    with pytest.raises(CommandError, match=r"nothing\.json"):
        call_command("evaluate_factcheck", str(tmp_path / "cases"), "--limit", "1")


def add_generated_references(count: int) -> list[Reference]:
    return [
        reference_add(
            content=encode_png(generated_image(seed=seed, size=(180, 240))), source="AP"
        ).reference
        for seed in range(count)
    ]


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)  # index updates run on commit
def test_embed_references_embeds_stale_references_and_says_so(
    embedding_off, tiny_descriptor
) -> None:
    references = add_generated_references(2)
    embedding_off.FACTCHECK_DESCRIPTOR_CONFIG = str(tiny_descriptor)
    out, err = StringIO(), StringIO()
    call_command("embed_references", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"2 embedded ({TINY_DESCRIPTOR_TAG}), 0 skipped"
    # The video sample index is published once a video has samples of the space.
    names = ["pdq", "embedding", "local", "video_frames"]
    assert [line.split(":")[0] for line in lines[1:]] == names
    assert re.fullmatch(r"embedding: version \d+, 2 entries", lines[2])
    assert indexed_reference_ids(EMBEDDING_INDEX) == {r.pk for r in references}
    again = StringIO()
    call_command("embed_references", "--batch-size", "1", stdout=again, stderr=StringIO())
    assert again.getvalue().splitlines()[0] == f"0 embedded ({TINY_DESCRIPTOR_TAG}), 0 skipped"
    every = StringIO()
    call_command("embed_references", "--all", stdout=every, stderr=StringIO())
    assert every.getvalue().splitlines()[0].startswith("2 embedded")


@pytest.mark.django_db(transaction=True)
def test_embed_references_exits_non_zero_after_embedding_the_readable_ones(
    embedding_off, tiny_descriptor
) -> None:
    kept, lost = add_generated_references(2)
    assert lost.media.file.name is not None
    default_storage.delete(lost.media.file.name)
    embedding_off.FACTCHECK_DESCRIPTOR_CONFIG = str(tiny_descriptor)
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 originals could not be read"):
        call_command("embed_references", stdout=out, stderr=err)
    assert out.getvalue().splitlines()[0] == f"1 embedded ({TINY_DESCRIPTOR_TAG}), 1 skipped"
    assert f"skipped reference {lost.pk}: cannot read the original" in err.getvalue()
    assert indexed_reference_ids(EMBEDDING_INDEX) == {kept.pk}


def test_embed_references_refuses_a_batch_size_below_one(embedding_off, tiny_descriptor) -> None:
    embedding_off.FACTCHECK_DESCRIPTOR_CONFIG = str(tiny_descriptor)
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("embed_references", "--batch-size", "0")


def test_embed_references_without_an_embedding_fails_in_one_line(embedding_off, run_manage):
    with pytest.raises(CommandError, match="no global embedding is configured"):
        call_command("embed_references", stdout=StringIO(), stderr=StringIO())
    result = run_manage("embed_references", FACTCHECK_DESCRIPTOR_CONFIG="")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # no progress bar
    assert result.stderr.startswith("CommandError: no global embedding is configured")
    assert "CLIP_MODEL_NAME" in result.stderr and "FACTCHECK_DESCRIPTOR_CONFIG" in result.stderr
