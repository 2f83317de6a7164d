"""How long an index update waits for the writer lock while the PDQ index is compacted.

    nice python scripts/bench_index_compaction.py [--hashes 1000000] [--every-ms 500]

Runs factcheck.indexing itself on PostgreSQL (DATABASE_URL, default the provenant_compact
database, created and migrated if missing; refused if it holds references of its own): inserts
--hashes synthetic references (random PDQ hashes, no embedding, no image: the local-descriptor
index off, as past FACTCHECK_LOCAL_INDEX_MAX_REFERENCES) and builds the indexes with
`index_rebuild`. Then, twice, a long writer runs in a separate process (as in a Celery worker's
child) while this process adds a reference and removes another every --every-ms, applying each
with `index_update` as the update task does:

- `inline_rebuild`: the writer is `index_rebuild`, the full build under the writer lock that an
  update past the delta limits used to run inline (and that `rebuild_index` still runs);
- `compaction`: the writer is `index_compact(name="pdq")`, which builds without the lock.

Per phase, in seconds: the writer's run and each of its writer-lock holds, and per update the
wait for the lock and the whole call (from its commit until it returned, i.e. searchable).
At the end the published PDQ ids must equal the database's. The synthetic rows are deleted and
the index files (in a temp folder) removed.

    nice python scripts/bench_index_compaction.py --rebuild-memory [--hashes 1000000]

measures instead what `manage.py rebuild_index` takes at --hashes references (issue 15: 1M within
8 GB), each also given a random unit vector in the configured embedding's space
(`embedding_tag()`, 256-d for the learned descriptor), so the embedding index is built too. The
command runs in a separate process, its embedding model loaded first; reported: its wall time,
its peak resident memory (ru_maxrss) and that before the rebuild, and the published files' sizes.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/provenant_compact"
SOURCE = "bench-index-compaction"  # the synthetic references' source, and only theirs
MEDIA_PREFIX = "bench-index-compaction/"


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks in-process: no worker needed
    import django

    django.setup()


def database_prepare() -> None:
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("select 1 from pg_database where datname = %s", [name]).fetchone():
            db.execute(f'create database "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO_DIR,
        env=os.environ.copy(),
        check=True,
    )


def synthetic_insert(count: int, *, embedding_dim: int = 0, embedding_model: str = "") -> None:
    """`count` references with random PDQ hashes, already indexed as far as the outbox knows
    (the first rebuild publishes them), in three INSERT ... SELECT statements. With
    `embedding_dim`, each also has a random unit vector of `embedding_model`'s space (COPY'd
    into a temp table first); else no embedding."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "insert into mediastore_mediaobject"
            " (sha256, file, mime, format, size, width, height, created_at)"
            " select md5(%s || i), %s || i, 'image/png', 'PNG', 1, 1, 1, now()"
            " from generate_series(1, %s) as i",
            [SOURCE, MEDIA_PREFIX, count],
        )
        cursor.execute(
            "insert into factcheck_reference"
            " (media_id, source, external_id, url, caption, credit, licence, created_at)"
            " select id, %s, '', '', '', '', '', now() from mediastore_mediaobject"
            " where file like %s",
            [SOURCE, MEDIA_PREFIX + "%"],
        )
        cursor.execute(
            "create temp table bench_embedding (n bigint primary key, embedding bytea)"
            " on commit drop"
        )
        if embedding_dim:
            embeddings_copy(cursor, count, embedding_dim)
        cursor.execute(
            "insert into factcheck_fingerprint"
            " (reference_id, pdq, pdq_quality, embedding, embedding_model, features_file,"
            " indexed, created_at)"
            " select id, decode(md5(id || 'a') || md5(id || 'b'), 'hex'), 100, embedding, %s,"
            " '', true, now() from (select id, row_number() over (order by id) as n"
            " from factcheck_reference where source = %s) as reference"
            " left join bench_embedding using (n)",
            [embedding_model if embedding_dim else "", SOURCE],
        )


def embeddings_copy(cursor: Any, count: int, dim: int, batch: int = 50_000) -> None:
    """Rows 1..`count` of bench_embedding: random L2-normalised float32 vectors."""
    import numpy as np

    rng = np.random.default_rng(0)
    with cursor.copy("copy bench_embedding (n, embedding) from stdin (format binary)") as copy:
        copy.set_types(["int8", "bytea"])
        for start in range(0, count, batch):
            vectors = rng.standard_normal((min(batch, count - start), dim), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            for n, vector in enumerate(vectors, start + 1):
                copy.write_row((n, vector.tobytes()))


def synthetic_delete() -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "delete from factcheck_fingerprint where reference_id in"
            " (select id from factcheck_reference where source = %s)",
            [SOURCE],
        )
        cursor.execute("delete from factcheck_reference where source = %s", [SOURCE])
        cursor.execute(
            "delete from mediastore_mediaobject where file like %s", [MEDIA_PREFIX + "%"]
        )
        cursor.execute("delete from factcheck_pendingindexremoval")


def references_refuse_foreign() -> None:
    from factcheck.models import Reference

    if Reference.objects.exclude(source=SOURCE).exists():
        raise SystemExit(f"{os.environ['DATABASE_URL']} holds references: use an empty database")


@contextmanager
def lock_timing(holds: list[dict[str, float]]) -> Iterator[None]:
    """factcheck.indexing's writer lock, each acquisition's wait and hold recorded."""
    from factcheck import indexing

    original = indexing._writer_lock

    @contextmanager
    def timed() -> Iterator[None]:
        asked = time.perf_counter()
        with original():
            taken = time.perf_counter()
            try:
                yield
            finally:
                released = time.perf_counter()
                holds.append({"wait_s": taken - asked, "hold_s": released - taken})

    indexing._writer_lock = timed
    try:
        yield
    finally:
        indexing._writer_lock = original


def writer_main(connection: Connection, job: str) -> None:
    """The long writer, in its own process: `job` run once, its lock holds sent back."""
    django_setup()
    from factcheck.core import index_store
    from factcheck.indexing import PDQ_INDEX, index_compact, index_rebuild

    # Due with the deltas published so far, whatever their size (the limits are this process's).
    index_store.DELTA_MAX_FILES = 0
    holds: list[dict[str, float]] = []
    connection.send("ready")
    connection.recv()
    started = time.perf_counter()
    with lock_timing(holds):
        if job == "compaction":
            assert index_compact(name=PDQ_INDEX) is not None, "no compaction was due"
        else:
            index_rebuild()
    connection.send({"run_s": time.perf_counter() - started, "lock_holds": holds})


def reference_add(seed: int) -> int:
    import numpy as np
    from django.db import transaction

    from factcheck.models import Fingerprint, Reference
    from mediastore.models import MediaObject

    pdq = np.random.default_rng(seed).integers(0, 256, 32, dtype=np.uint8).tobytes()
    with transaction.atomic():
        media = MediaObject.objects.create(
            sha256=f"{seed:064x}", file=f"{MEDIA_PREFIX}new-{seed}", mime="image/png",
            format="PNG", size=1, width=1, height=1,
        )  # fmt: skip
        reference = Reference.objects.create(media=media, source=SOURCE)
        Fingerprint.objects.create(reference=reference, pdq=pdq, pdq_quality=100)
    return reference.pk


def reference_remove(reference_id: int) -> None:
    from django.db import transaction

    from factcheck.models import PendingIndexRemoval, Reference

    with transaction.atomic():
        PendingIndexRemoval.objects.create(reference_id=reference_id)
        Reference.objects.filter(pk=reference_id).delete()


def updates_during(job: str, every_s: float, seed: int) -> dict[str, Any]:
    """Run `job` in a writer process; meanwhile add a reference and remove another every
    `every_s`, each applied at once by `index_update`, until the writer is done."""
    from factcheck import indexing
    from factcheck.indexing import index_update
    from factcheck.models import Reference

    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe()
    writer = context.Process(target=writer_main, args=(theirs, job))
    writer.start()
    assert mine.recv() == "ready"
    references = Reference.objects.filter(source=SOURCE).order_by("pk")
    old_ids = iter(references.values_list("pk", flat=True)[:10_000])
    updates: list[dict[str, float]] = []
    enqueued: list[str] = []

    def record_compaction(name: str) -> None:
        enqueued.append(name)

    enqueue, indexing._compaction_enqueue = indexing._compaction_enqueue, record_compaction
    mine.send("go")
    time.sleep(every_s)  # the writer has the lock (or has read where it starts) by now
    try:
        while not mine.poll():
            holds: list[dict[str, float]] = []
            added = reference_add(seed := seed + 1)
            reference_remove(next(old_ids))
            started = time.perf_counter()
            with lock_timing(holds):
                index_update(add_ids=[added])
            call_s = time.perf_counter() - started
            updates.append({"wait_s": holds[0]["wait_s"], "call_s": call_s})
            time.sleep(max(0.0, every_s - call_s))
    finally:
        indexing._compaction_enqueue = enqueue
    result = mine.recv()
    writer.join()
    return {
        "compactions_enqueued": len(enqueued),  # not run here: the writer's is measured
        "writer_run_s": round(result["run_s"], 2),
        "writer_lock_holds_s": [round(hold["hold_s"], 3) for hold in result["lock_holds"]],
        "updates": len(updates),
        "update_lock_wait_s": summary([update["wait_s"] for update in updates]),
        "update_call_s": summary([update["call_s"] for update in updates]),
    }


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"max": round(max(values), 3), "median": round(statistics.median(values), 3)}


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--every-ms", type=float, default=500.0)
    parser.add_argument(
        "--rebuild-memory",
        action="store_true",
        help="measure `rebuild_index` (time, peak memory, file sizes), with embeddings",
    )
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    # Synthetic references have no image: the local-descriptor index is off, as at scale.
    os.environ["FACTCHECK_LOCAL_INDEX_MAX_REFERENCES"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-index-compaction-") as data_dir:
        os.environ["DATA_DIR"] = data_dir  # the index files, and nothing else of the project's
        database_prepare()
        django_setup()
        print(json.dumps((rebuild_memory if args.rebuild_memory else run)(args), indent=1))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from factcheck.indexing import PDQ_INDEX, index_rebuild, index_update, indexed_reference_ids
    from factcheck.models import Reference

    references_refuse_foreign()
    synthetic_delete()  # what an interrupted run left
    result: dict[str, Any] = {"hashes": args.hashes, "every_ms": args.every_ms}
    try:
        result["insert_s"] = timed(lambda: synthetic_insert(args.hashes))
        result["first_build_s"] = timed(index_rebuild)
        result["update_alone_s"] = timed(lambda: index_update(add_ids=[reference_add(0)]))
        result["inline_rebuild"] = updates_during("inline_rebuild", args.every_ms / 1000, 1_000)
        index_update(add_ids=[reference_add(1)])  # a delta, so the writer has one to compact
        result["compaction"] = updates_during("compaction", args.every_ms / 1000, 2_000)
        index_update()
        in_database = set(Reference.objects.values_list("pk", flat=True))
        result["published_ids_match_database"] = indexed_reference_ids(PDQ_INDEX) == in_database
    finally:
        synthetic_delete()
    return result


def rebuild_main(connection: Connection) -> None:
    """`manage.py rebuild_index`, in its own process, its embedding model loaded beforehand."""
    django_setup()
    from django.core.management import call_command

    from factcheck.embedding import embedding_tag

    embedding_tag()  # loads the model, as the command's first row read would
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    output = io.StringIO()
    started = time.perf_counter()
    call_command("rebuild_index", stdout=output)
    connection.send(
        {
            "rebuild_s": round(time.perf_counter() - started, 2),
            "rss_before_rebuild_mb": round(before / 1024, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "output": output.getvalue().splitlines(),
        }
    )


def rebuild_memory(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings

    from factcheck.embedding import configured_embedder, embedding_tag

    embedder = configured_embedder()
    if embedder is None:
        raise SystemExit("no embedding configured (FACTCHECK_DESCRIPTOR_CONFIG, CLIP_MODEL_NAME)")
    references_refuse_foreign()
    synthetic_delete()  # what an interrupted run left
    tag, dim = embedding_tag(), embedder.dim
    result: dict[str, Any] = {"references": args.hashes, "embedding": tag, "embedding_dim": dim}
    try:
        result["insert_s"] = timed(
            lambda: synthetic_insert(args.hashes, embedding_dim=dim, embedding_model=tag)
        )
        context = multiprocessing.get_context("spawn")
        mine, theirs = context.Pipe()
        child = context.Process(target=rebuild_main, args=(theirs,))
        started = time.perf_counter()
        child.start()
        theirs.close()  # the child's end: its death ends recv() with EOFError
        result.update(mine.recv())
        child.join()
        result["child_s"] = round(time.perf_counter() - started, 2)  # with its start-up
        growth = result["peak_rss_mb"] - result["rss_before_rebuild_mb"]
        result["rebuild_bytes_per_reference"] = round(growth * 2**20 / args.hashes)
        files = sorted(Path(settings.INDEX_DIR).iterdir())
        result["index_files_bytes"] = {f.name: f.stat().st_size for f in files if f.is_file()}
        result["index_files_total_mb"] = round(sum(result["index_files_bytes"].values()) / 2**20, 1)
    finally:
        synthetic_delete()
    return result


if __name__ == "__main__":
    main()
