"""`manage.py analyze` (DESIGN.md contract) and `manage.py reanalyze`."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from moderation.models import Report, Submission
from moderation.services import submission_create

from .conftest import match_item


def _write(path: Path, seed: int, image_format: str = "PNG") -> Path:
    pixels = np.random.default_rng(seed).integers(0, 256, (40, 60, 3), np.uint8)
    Image.fromarray(pixels).save(path, format=image_format)
    return path


def analyze(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("analyze", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_json_lines_in_input_order_with_artifacts(engines, tmp_path) -> None:
    first, second = _write(tmp_path / "b.png", 1), _write(tmp_path / "a.jpg", 2, "JPEG")
    engines.matches = [match_item(edited=True)]
    out, _ = analyze(str(first), str(second), "--json", "--artifacts", str(tmp_path / "out"))
    documents = [json.loads(line) for line in out.splitlines()]
    assert [d["input"] for d in documents] == [str(first), str(second)]
    assert all(d["schema"] == "report/1" for d in documents)
    mask = np.asarray(Image.open(tmp_path / "out" / "b" / "edit_mask.png"))
    assert mask.shape == (40, 60) and set(np.unique(mask)) == {0, 255}
    forensic = np.asarray(Image.open(tmp_path / "out" / "a" / "forensic_map.png"))
    assert forensic.shape == (40, 60) and forensic.dtype == np.uint8
    assert Submission.objects.count() == 0 and Report.objects.count() == 0  # no rows


@pytest.mark.django_db
def test_no_match_writes_no_edit_mask_and_text_is_passed(engines, tmp_path) -> None:
    image = _write(tmp_path / "c.png", 3)
    out, _ = analyze(str(image), "--json", "--text", "a caption", "--artifacts", str(tmp_path))
    assert json.loads(out)["text"] == "a caption"
    assert not (tmp_path / "c" / "edit_mask.png").exists()
    assert (tmp_path / "c" / "forensic_map.png").exists()


@pytest.mark.django_db
def test_a_bad_file_is_reported_and_the_others_still_processed(engines, tmp_path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"no image here")
    good = _write(tmp_path / "good.png", 4)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="2 of 3 inputs could not be analysed"):
        call_command(
            "analyze", str(bad), str(tmp_path / "missing.png"), str(good), "--json",
            stdout=out, stderr=err,
        )  # fmt: skip
    assert [json.loads(line)["input"] for line in out.getvalue().splitlines()] == [str(good)]
    assert f"{bad}: the file is not a readable image" in err.getvalue()
    assert "missing.png: cannot read the file" in err.getvalue()


@pytest.mark.django_db
def test_plain_output_is_one_line_per_input(engines, tmp_path) -> None:
    out, _ = analyze(str(_write(tmp_path / "d.png", 5)))
    assert out.startswith(f"{tmp_path / 'd.png'}: no_evidence (manipulation probability 0.20)")


@pytest.mark.django_db
def test_reanalyze_by_ids_failed_and_since(
    engines, api_client_credentials, make_image_bytes, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        done = submission_create(content=make_image_bytes(seed=1), source="api")
        failed = submission_create(content=make_image_bytes(seed=2), source="api")
    Submission.objects.filter(pk=failed.pk).update(status="failed", failure_reason="x")
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reanalyze", str(done.pk), stdout=out)
    assert out.getvalue().strip() == "1 queued, 0 skipped"
    assert Report.objects.get(submission=done, is_current=True).version == 2
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reanalyze", "--failed", stdout=io.StringIO())
    failed.refresh_from_db()
    assert failed.status == "analyzed"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reanalyze", "--since", "2000-01-01", stdout=(out := io.StringIO()))
    assert out.getvalue().strip() == "2 queued, 0 skipped"
    with pytest.raises(CommandError, match="no such submission: 999999"):
        call_command("reanalyze", "999999")
    with pytest.raises(CommandError, match="one of them"):
        call_command("reanalyze")
    with pytest.raises(CommandError, match="a date like"):
        call_command("reanalyze", "--since", "yesterday")
