"""Helpers shared by the benchmark and load scripts (run as `python scripts/NAME.py`, so this
folder is on sys.path): process CPU time from /proc, percentiles, a loopback port, and the
guard against borrowing a Redis database someone else uses."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (Linux /proc), in seconds.

    CPU time barely depends on what else loads the machine, unlike wall-clock latency.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        pending += [int(child) for child in children]
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def percentiles_ms(timings_s: list[float]) -> dict[str, float]:
    """p50 and p95 of timings in seconds, in milliseconds."""
    return {
        "p50": round(percentile(timings_s, 0.5) * 1000, 3),
        "p95": round(percentile(timings_s, 0.95) * 1000, 3),
    }


MEMORY_KEYS = (
    "Rss",
    "Pss",
    "Shared_Clean",
    "Shared_Dirty",
    "Private_Clean",
    "Private_Dirty",
    "Anonymous",
)


def memory_mb() -> dict[str, float]:
    """This process's resident memory by kind, from /proc/self/smaps_rollup (kB there), in MB."""
    found = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in MEMORY_KEYS:
            found[key] = round(int(rest.split()[0]) / 1024, 1)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_empty_broker() -> None:
    """Refuse a Redis database someone else is using: our worker would eat their tasks, and the
    final flush would drop them."""
    import redis

    keys = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).dbsize()
    if keys:
        raise SystemExit(
            f"{os.environ['CELERY_BROKER_URL']} holds {keys} keys: it is in use; set "
            "CELERY_BROKER_URL to an empty Redis database"
        )


def api_client_setup(label: str):
    """The database named by DATABASE_URL (created if missing, migrated), Django set up, and a
    fresh API client `label <random>`: returns its IssuedClient (token and webhook secret)."""
    import subprocess
    import sys
    import uuid

    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            db.execute(f'create database "{name}"')
    repo_dir = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=repo_dir, check=True
    )
    import django

    django.setup()
    from accounts.services import api_client_create

    return api_client_create(name=f"{label} {uuid.uuid4().hex[:8]}")
