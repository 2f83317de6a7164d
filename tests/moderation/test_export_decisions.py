"""Reviewer decisions as labels: the selection rule on real decision rows (made through the review
services, undo included) and `manage.py export_decisions` writing a labelled folder that
`detection.evaluation.labelled_folder` reads."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from detection.evaluation.labelled_folder import read_labelled_folder
from moderation.models import Decision, ReviewItem
from moderation.review import decision_make, decision_undo, item_claim
from moderation.selectors import SATIRE_RATIONALE, decision_image_labels
from tests.moderation.review_factory import review_item_create

pytestmark = pytest.mark.django_db


def _decide(item: ReviewItem, user, action: str, label: str = "", rationale: str = "", now=None):
    now = now or timezone.now()
    item_claim(item=item, user=user, now=now)
    return decision_make(
        item=item, user=user, action=action, label=label, rationale=rationale, now=now
    )


@pytest.fixture
def decided(personas) -> dict[str, ReviewItem]:
    """One item per kind of decision (each its own picture)."""
    moderator = personas["moderator"]
    items = {
        name: review_item_create(seed=seed)
        for seed, name in enumerate(
            [
                "allowed",
                "altered",
                "synthetic",
                "context",
                "satire",
                "removed",
                "escalated",
                "misleading",
                "undone",
                "redecided",
            ]
        )
    }
    _decide(items["allowed"], moderator, "allow")
    _decide(items["altered"], moderator, "label", "altered image")
    _decide(items["synthetic"], moderator, "label", "synthetic media")
    _decide(items["context"], moderator, "label", "missing context")
    _decide(items["satire"], moderator, "allow", rationale=SATIRE_RATIONALE)
    _decide(items["removed"], moderator, "remove", rationale="Known hoax.")
    _decide(items["escalated"], moderator, "escalate", rationale="Unclear origin.")
    _decide(items["misleading"], moderator, "label", "misleading")
    # Undone: the allow no longer counts and nothing replaced it.
    undone = _decide(items["undone"], moderator, "allow")
    decision_undo(decision_id=undone.pk, user=moderator)
    # Undone, then decided again: the later decision counts.
    first = _decide(items["redecided"], moderator, "allow")
    decision_undo(decision_id=first.pk, user=moderator)
    decision_make(item=items["redecided"], user=moderator, action="label", label="altered image")
    return items


def _labels_by_item(decided: dict[str, ReviewItem], since=None) -> dict[str, str | None]:
    labelled, skipped = decision_image_labels(since=since)
    names = {item.pk: name for name, item in decided.items()}
    found: dict[str, str | None] = {names[d.decision.item_id]: d.label for d in labelled}
    found |= {names[d.item_id]: None for d in skipped}
    return found


def test_latest_not_undone_decision_labels_each_image(decided) -> None:
    assert _labels_by_item(decided) == {
        "allowed": "real",
        "altered": "fake",
        "synthetic": "fake",
        "context": "real",
        "satire": None,
        "removed": None,
        "escalated": None,
        "misleading": None,
        "redecided": "fake",
    }


def test_since_keeps_only_later_decisions(decided) -> None:
    Decision.objects.filter(item=decided["allowed"]).update(
        created_at=timezone.now() - dt.timedelta(days=10)
    )
    found = _labels_by_item(decided, since=timezone.now() - dt.timedelta(days=1))
    assert "allowed" not in found and found["altered"] == "fake"


def test_export_writes_a_folder_calibration_reads(decided, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("export_decisions", str(tmp_path / "set"), stdout=out)
    printed = out.getvalue()
    assert "exported 2 real and 3 fake images" in printed
    assert "1 escalate" in printed and "1 label misleading" in printed
    real = sorted(p.name for p in (tmp_path / "set" / "real").iterdir())
    assert real == sorted(
        f"submission-{decided[n].submission_id}.png" for n in ("allowed", "context")
    )
    # The exported bytes are the submitted media, byte for byte.
    altered = decided["altered"].submission.media
    exported = tmp_path / "set" / "fake" / f"submission-{decided['altered'].submission_id}.png"
    assert exported.read_bytes() == altered.file.open("rb").read()
    # Too few images for calibration here (4 per class), but the layout reads.
    with pytest.raises(ValueError, match="at least 4"):
        read_labelled_folder(tmp_path / "set")


def test_export_refuses_a_folder_with_files_and_a_bad_date(decided, tmp_path: Path) -> None:
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty folder"):
        call_command("export_decisions", str(tmp_path / "set"))
    assert (tmp_path / "set" / "keep.txt").read_text() == "mine"
    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("export_decisions", str(tmp_path / "other"), "--since", "yesterday")
