"""End-to-end latency of the analysis pipeline through a real Celery worker.

    python scripts/bench_pipeline.py [--references 1000] [--queries 30] [--warmup 4]

Uses its own PostgreSQL database, DATA_DIR and Redis database (see the defaults below; nothing
else is touched). Setup (once, skipped when the references are already there): generates
procedural 1024x768 'photos' (factcheck.evaluation.evalsources.generated_image), adds them as
references with `manage.py add_references` and builds the indexes once with `rebuild_index`.
Then it starts `celery -A config worker` (the `make worker` command: prefork, one process per
core), submits 1024-px queries one at a time (edited copies of references, recompressed copies,
unrelated images) and measures from submission to stored report. Loopback only; bounded by
--timeout per query.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import percentile, require_empty_broker, tree_cpu_seconds

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/provenant_bench_pipeline",
    "DATA_DIR": str(REPO_DIR / "var" / "bench-pipeline"),
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
}
for _key, _value in DEFAULTS.items():
    os.environ.setdefault(_key, _value)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]
QUEUES = "default,ingest,analyze,index,deliver"
EDIT_BOX = (600, 300, 180, 160)  # x, y, w, h pasted into edited copies


def run_manage(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_DIR, env=os.environ.copy(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def create_database() -> None:
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            db.execute(f'create database "{name}"')


def setup_references(count: int) -> None:
    import redis
    from PIL import Image

    from factcheck.evaluation.evalsources import generated_image
    from factcheck.models import Reference

    have = Reference.objects.filter(source="bench").count()
    if have >= count:
        print(f"{have} references present", flush=True)
        return
    folder = Path(os.environ["DATA_DIR"]) / "bench-references"
    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(count):
        path = folder / f"ref-{seed:05d}.jpg"
        if not path.exists():
            Image.fromarray(generated_image(seed)).save(path, quality=95)
    started = time.perf_counter()
    # No worker runs yet: the per-reference index updates wait in Redis and are dropped below;
    # one rebuild is far cheaper than a thousand incremental publishes.
    run_manage("add_references", str(folder), "--source", "bench")
    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    print(run_manage("rebuild_index").strip(), flush=True)
    print(f"setup: {count} references in {time.perf_counter() - started:.0f} s", flush=True)


def query_images(count: int, references: int) -> list[tuple[str, bytes]]:
    import numpy as np
    from PIL import Image

    from factcheck.evaluation.evalsources import generated_image

    def jpeg(pixels: np.ndarray, quality: int) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()

    rng = np.random.default_rng(7)
    queries = []
    for i in range(count):
        kind = ("edited", "recompressed", "unrelated")[i % 3]
        seed = int(rng.integers(0, references))
        if kind == "unrelated":
            queries.append((kind, jpeg(generated_image(10_000_000 + i), 90)))
            continue
        pixels = generated_image(seed).copy()
        if kind == "edited":
            x, y, w, h = EDIT_BOX
            pixels[y : y + h, x : x + w] = generated_image(20_000_000 + i)[:h, :w]
        queries.append((kind, jpeg(pixels, 90 if kind == "edited" else 70)))
    return queries


def start_worker(log_path: Path) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker",
               "-Q", QUEUES, "-n", "bench@%h", "--loglevel=INFO"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{REPO_DIR}:{REPO_DIR / 'platform'}"}
    log = log_path.open("w")
    process = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return process


def analyse_one(content: bytes, timeout: float) -> tuple[float, dict]:
    from django.db import transaction

    from moderation.models import Report, Submission
    from moderation.services import submission_create

    started = time.perf_counter()
    with transaction.atomic():
        submission = submission_create(content=content, source="cli")
    deadline = time.monotonic() + timeout
    while True:
        status = Submission.objects.filter(pk=submission.pk).values_list("status", flat=True)[0]
        if status in ("analyzed", "failed"):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"submission {submission.pk} not analysed within {timeout} s")
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    report = Report.objects.filter(submission=submission, is_current=True).first()
    return elapsed, (report.document if report else {"failed": status})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--references", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=120.0)
    options = parser.parse_args()

    require_empty_broker()
    create_database()
    run_manage("migrate", "--noinput")
    import django

    django.setup()
    setup_references(options.references)
    import redis

    log_path = Path(os.environ["DATA_DIR"]) / "bench-worker.log"
    worker = start_worker(log_path)
    try:
        queries = query_images(options.warmup + options.queries, options.references)
        results = []
        for index, (kind, content) in enumerate(queries):
            if index == options.warmup:
                cpu_before = tree_cpu_seconds(worker.pid)
            elapsed, document = analyse_one(content, options.timeout)
            if index >= options.warmup:
                results.append((kind, elapsed, document))
        worker_cpu = tree_cpu_seconds(worker.pid) - cpu_before
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    end_to_end = [elapsed * 1000 for _, elapsed, _ in results]
    stage = {
        name: statistics.median(d["timings_ms"].get(name, 0.0) for _, _, d in results)
        for name in ("decode", "factcheck", "detection", "metadata", "total")
    }
    expected = {"edited": "edited_copy", "recompressed": "unaltered_copy"}
    correct = sum(
        d.get("verdict", {}).get("label") == expected[kind]
        if kind in expected
        else d.get("verdict", {}).get("label") != "edited_copy"
        for kind, _, d in results
    )
    summary = {
        "references": options.references,
        "queries": len(results),
        "end_to_end_ms": {
            "p50": round(percentile(end_to_end, 0.5)),
            "p95": round(percentile(end_to_end, 0.95)),
            "max": round(max(end_to_end)),
        },
        "pipeline_median_ms": {name: round(value) for name, value in stage.items()},
        "worker_cpu_ms_per_image": round(worker_cpu * 1000 / len(results)),
        "load_average_1min_at_end": os.getloadavg()[0],
        "expected_verdicts": f"{correct}/{len(results)}",
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
