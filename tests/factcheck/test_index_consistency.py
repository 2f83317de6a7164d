"""Database rows and index entries stay in step: killed adds, lost index updates, removals."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from PIL import Image

from factcheck import services
from factcheck.evaluation.evalsources import generated_image
from factcheck.indexing import LOCAL_INDEX, PDQ_INDEX, index_update, indexed_reference_ids
from factcheck.models import Fingerprint, PendingIndexRemoval, Reference
from factcheck.tasks import update_index

pytestmark = pytest.mark.django_db(transaction=True)

REPO_DIR = Path(__file__).resolve().parents[2]
INDEXES = (PDQ_INDEX, LOCAL_INDEX)
FILES = 40
KILL_AFTER = 5  # references committed before the kill


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(generated_image(seed=seed, size=(240, 320))).save(buffer, format="PNG")
    return buffer.getvalue()


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def assert_consistent() -> None:
    in_database = set(Reference.objects.values_list("pk", flat=True))
    for name in INDEXES:
        assert indexed_reference_ids(name) == in_database, name
    assert not Fingerprint.objects.filter(indexed=False).exists()
    assert not PendingIndexRemoval.objects.exists()


@pytest.mark.slow
def test_add_killed_half_way_is_repaired_by_the_next_update(tmp_path, settings, project_env):
    folder = tmp_path / "originals"
    folder.mkdir()
    for seed in range(FILES):
        (folder / f"scene-{seed:02d}.png").write_bytes(png(seed))
    data_dir = tmp_path / "data"  # the subprocess and this test share media and indexes
    settings.MEDIA_ROOT, settings.INDEX_DIR = data_dir / "media", data_dir / "index"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "add_references", str(folder)],
        cwd=REPO_DIR,
        env=project_env(DATA_DIR=str(data_dir), DATABASE_URL=database_url()),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill inside the worst window: a reference is committed but no index version has it yet.
    deadline = time.monotonic() + 120
    while not (
        Reference.objects.count() >= KILL_AFTER
        and Fingerprint.objects.filter(indexed=False).exists()
    ):
        assert process.poll() is None and time.monotonic() < deadline, "missed the window"
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "add_references finished before it was killed"
    added = set(Reference.objects.values_list("pk", flat=True))
    assert KILL_AFTER <= len(added) < FILES
    # A reference and its fingerprint commit together; the index never runs ahead of the rows.
    assert set(Fingerprint.objects.values_list("reference_id", flat=True)) == added
    for name in INDEXES:
        assert indexed_reference_ids(name) <= added
    update_index.delay([], [])  # any later update applies what the killed one left behind
    assert_consistent()
    call_command("add_references", str(folder), stdout=io.StringIO(), stderr=io.StringIO())
    assert Reference.objects.count() == FILES
    assert_consistent()


def test_lost_index_updates_are_applied_by_the_next_update_or_rebuild(monkeypatch) -> None:
    kept = services.reference_add(content=png(1), source="AP").reference
    removed = services.reference_add(content=png(2), source="AP").reference
    monkeypatch.setattr(services, "_enqueue_index_update", lambda **ids: None)  # task lost
    late = services.reference_add(content=png(3), source="AP").reference
    removed_id = removed.pk
    services.reference_remove(reference=removed)
    for name in INDEXES:  # until an update runs, the index lags the database
        assert indexed_reference_ids(name) == {kept.pk, removed_id}
    change = index_update()
    assert change.indexed_ids == [late.pk]
    assert_consistent()
    services.reference_remove(reference=late)
    call_command("rebuild_index", stdout=io.StringIO())
    assert_consistent()
    assert indexed_reference_ids(PDQ_INDEX) == {kept.pk}


def test_retried_update_changes_nothing(tmp_path) -> None:
    first = services.reference_add(content=png(4), source="AP").reference
    second = services.reference_add(content=png(5), source="AP").reference
    update_index.delay([first.pk, second.pk], [])
    update_index.delay([first.pk, second.pk], [12345])
    assert_consistent()
    assert indexed_reference_ids(LOCAL_INDEX) == {first.pk, second.pk}
