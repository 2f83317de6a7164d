"""Short chaos run (scripts/chaos.py, 30 items): workers SIGKILLed and restarted while
submissions are analysed and their events delivered to a loopback receiver. Nothing may be lost
or duplicated. The documented 1,000-item run and its figures are in docs/benchmarks.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

REPO_DIR = Path(__file__).resolve().parents[2]
CHAOS_REDIS_DB = 10  # apart from the other worker tests (13, 14)
ITEMS = 30

pytestmark = [pytest.mark.celery_worker, pytest.mark.slow]


@pytest.mark.timeout(900)
@pytest.mark.django_db
def test_killed_workers_lose_and_duplicate_nothing(project_env) -> None:
    # Its own database next to the test database: the script empties the one it uses.
    database = f"{connection.settings_dict['NAME']}_chaos"
    done = subprocess.run(
        [
            sys.executable, "scripts/chaos.py", "--items", str(ITEMS), "--workers", "2",
            "--kill-every", "1", "3", "--min-kills", "2", "--max-kills", "3",
            "--resume-every", "10", "--timeout", "600",
            "--database", database, "--redis-db", str(CHAOS_REDIS_DB), "--json",
        ],
        cwd=REPO_DIR,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout[-2000:] + done.stderr[-3000:]
    figures = json.loads(lines[-1])
    assert figures["kills"] >= 2, figures  # the run did kill workers mid-task
    assert figures["submitted"] == ITEMS
    assert figures["statuses"] == {"analyzed": ITEMS}, figures
    for key in (
        "lost", "failed", "analysed_without_exactly_one_current_report", "duplicated_reports",
        "analysed_without_event", "duplicated_events", "deliveries_not_delivered",
        "events_without_delivery", "receiver_missing_ids", "receiver_bad_signatures",
    ):  # fmt: skip
        assert figures[key] == 0, (key, figures)
    assert figures["receiver_unique_ids"] == figures["deliveries"] == ITEMS
    assert figures["ok"] is True
    assert done.returncode == 0
