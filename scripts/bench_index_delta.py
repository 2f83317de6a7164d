"""Appended deltas vs whole rewrites, and what a memory-mapped reader costs (issue 15).

    python scripts/bench_index_delta.py [--hashes 1000000] [--vectors 1000000] [--dim 256]
        [--readers 2] [--deltas 8] [--queries 200] [--training-samples 262144] [--dir DIR]
        [--chunk 1000000] [--build-threads 1]

Offline and synthetic: random PDQ hashes and unit vectors near a low-dimensional subspace (the
global embedding), published with the production code (factcheck.core.index_store) in a temp
folder, with the production index parameters (PDQ: multi-index hashing above 200k hashes;
embedding: IVF + SQ8 above 200k vectors, exact re-ranking). The vectors are generated, indexed
and written --chunk rows at a time, so a 10M run never holds them all in memory (`build_embedding`).
Prints one JSON document:

- `publish`: one added reference published as a delta (load_base, empty_like, plan_delta,
  save_delta: what index_update does now) vs as a full rewrite (a private copy of the index,
  add, save_index: what it did before), seconds and bytes written, per index;
- `visible_s`: from the start of the delta publish until each reader process's next query
  (polling every --poll-ms) returns the new reference;
- `readers`: per reader process, resident memory once every reader has loaded and searched
  (/proc/self/smaps_rollup: Rss, Pss, Shared vs Private, Anonymous; MB, minus the process's
  footprint before loading), for --readers memory-mapping readers and one private-copy reader;
- `latency_ms`: search p50/p95 per query (PDQ: 8 dihedral-like hashes, k 10, the first with
  the full radius; embedding: image + mirror, k 10, exact re-ranking) on the base alone, then on
  the base + --deltas deltas (each adding one reference and removing another).

How long an update waits for the writer lock while an index is compacted needs the database
(factcheck.indexing reads it): scripts/bench_index_compaction.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import faiss
import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_DIR)]  # factcheck.core is Django-free: no settings needed

from measure import memory_mb, percentiles_ms  # noqa: E402  (this folder is on sys.path)

from factcheck.core import index as index_module  # noqa: E402
from factcheck.core.index import (  # noqa: E402
    BinaryIndexConfig,
    ClipIndex,
    FloatIndexConfig,
    PdqIndex,
)
from factcheck.core.index_store import (  # noqa: E402
    AnyIndex,
    IndexStore,
    load_base,
    load_index,
    plan_delta,
    read_manifest,
    save_delta,
    save_index,
)
from factcheck.core.layered import LayeredClipIndex, LayeredPdqIndex  # noqa: E402

PDQ, EMBEDDING = "pdq", "embedding"
MB = 1024 * 1024


def unit_vector_chunks(count: int, dim: int, seed: int, chunk: int) -> Iterator[np.ndarray]:
    """`count` unit vectors near a 32-dimensional subspace, `chunk` rows at a time (a multiple
    of 100,000, or all): one fixed-seed stream, so a chunked run has exactly a whole one's rows."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((32, dim)).astype(np.float32)
    for first in range(0, count, chunk):
        vectors = np.empty((min(chunk, count - first), dim), np.float32)
        for start in range(0, len(vectors), 100_000):  # bounded temporaries
            size = min(100_000, len(vectors) - start)
            block = rng.standard_normal((size, 32)).astype(np.float32) @ basis
            block += 0.5 * rng.standard_normal((size, dim)).astype(np.float32)
            vectors[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
        yield vectors


def flipped(hashes: np.ndarray, bits: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    unpacked = np.unpackbits(hashes, axis=1)
    for row in unpacked:
        row[rng.choice(256, size=bits, replace=False)] ^= 1
    return np.packbits(unpacked, axis=1)


# -- reader processes -----------------------------------------------------------------------


class Reader:
    """One worker process's view: the two indexes through IndexStore, and the query load."""

    def __init__(self, directory: str, mmap: bool, data: dict[str, Any]) -> None:
        faiss.omp_set_num_threads(1)
        self.stores = {name: IndexStore(directory, name, mmap=mmap) for name in (PDQ, EMBEDDING)}
        # The full-precision vectors live in the database in production: read rows with pread,
        # not through a mapping (whose readahead would count in this process's memory).
        self.vectors = open(data["vectors_path"], "rb")  # noqa: SIM115
        header = np.load(data["vectors_path"], mmap_mode="r")
        self.vectors_offset, self.dim = header.offset, header.shape[1]
        self.vectors_count = header.shape[0]
        del header
        self.extra: dict[int, np.ndarray] = {}
        self.pdq_queries, self.embedding_queries = data["pdq_queries"], data["embedding_queries"]

    def pdq(self) -> PdqIndex | LayeredPdqIndex:
        index = self.stores[PDQ].get()
        assert isinstance(index, PdqIndex | LayeredPdqIndex)
        return index

    def embedding(self) -> ClipIndex | LayeredClipIndex:
        index = self.stores[EMBEDDING].get()
        assert isinstance(index, ClipIndex | LayeredClipIndex)
        return index

    def exact_vectors(self, wanted: list[int]) -> dict[int, np.ndarray]:
        found = {i: self.extra[i] for i in wanted if i in self.extra}
        row_bytes = self.dim * 4
        for i in wanted:
            if 0 <= i < self.vectors_count:
                raw = os.pread(
                    self.vectors.fileno(), row_bytes, self.vectors_offset + i * row_bytes
                )
                found[i] = np.frombuffer(raw, np.float32)
        return found

    def latency(self) -> dict[str, dict[str, float]]:
        pdq, embedding = self.pdq(), self.embedding()
        pdq_times, embedding_times = [], []
        for hashes, vectors in zip(self.pdq_queries, self.embedding_queries, strict=True):
            started = time.perf_counter()
            pdq.search(hashes, 10, primary=1)
            pdq_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            embedding.search(vectors, 10, self.exact_vectors)
            embedding_times.append(time.perf_counter() - started)
        return {PDQ: percentiles_ms(pdq_times), EMBEDDING: percentiles_ms(embedding_times)}

    def watch(self, target: dict[str, Any], poll_s: float) -> dict[str, float]:
        """Monotonic times at which each index's next query first returned the new row."""
        self.extra[target["id"]] = target["vector"]
        seen: dict[str, float] = {}
        while len(seen) < 2:
            if PDQ not in seen:
                ids, _ = self.pdq().search(target["hash"][None], 1)
                if ids[0, 0] == target["id"]:
                    seen[PDQ] = time.monotonic()
            if EMBEDDING not in seen:
                ids, _ = self.embedding().search(target["vector"][None], 1)
                if ids[0, 0] == target["id"]:
                    seen[EMBEDDING] = time.monotonic()
            time.sleep(poll_s)
        return seen


def reader_main(connection: Connection, directory: str, mmap: bool, data: dict[str, Any]) -> None:
    before = memory_mb()
    started = time.perf_counter()
    reader = Reader(directory, mmap, data)
    for store in reader.stores.values():
        store.get()
    loaded_s = time.perf_counter() - started
    reader.latency()  # warm-up: the pages a query load touches are mapped before memory is read
    connection.send({"load_s": round(loaded_s, 3)})
    while True:
        command, argument = connection.recv()
        if command == "memory":
            now = memory_mb()
            connection.send({key: round(now[key] - before.get(key, 0), 1) for key in now})
        elif command == "watch":
            connection.send(reader.watch(argument, data["poll_s"]))
        elif command == "latency":
            for row_id, vector in argument.items():
                reader.extra[row_id] = vector
            connection.send(reader.latency())
        else:
            return


# -- writer ---------------------------------------------------------------------------------


def written_bytes(directory: Path, name: str, before: set[str]) -> int:
    """Bytes of the files (and manifest) the latest publish of `name` wrote."""
    manifest = read_manifest(directory, name)
    assert manifest is not None
    new = [directory / file for file in manifest.files() if file not in before]
    return (
        sum(path.stat().st_size for path in new)
        + (directory / f"{name}.manifest.json").stat().st_size
    )


def publish_delta(
    directory: Path, name: str, add: Callable[[Any], None], removed: list[int]
) -> dict[str, Any]:
    published = read_manifest(directory, name)
    assert published is not None
    before = set(published.files())
    started = time.perf_counter()
    base, _ = load_base(directory, name)
    delta = base.empty_like()
    add(delta)
    save_delta(directory, name, plan_delta(directory, name, removed_ids=removed, added=delta))
    return {
        "s": round(time.perf_counter() - started, 4),
        "bytes": written_bytes(directory, name, before),
    }


def publish_rewrite(directory: Path, name: str, add: Callable[[Any], None]) -> dict[str, Any]:
    """What index_update did before deltas: a private copy, changed, written whole."""
    started = time.perf_counter()
    index, _ = load_index(directory, name, mmap=False)
    assert isinstance(index, AnyIndex)  # a base without deltas
    add(index)
    save_index(directory, name, index)
    return {
        "s": round(time.perf_counter() - started, 4),
        "bytes": written_bytes(directory, name, set()),
    }


def build_embedding(args: argparse.Namespace) -> tuple[ClipIndex, float]:
    """The embedding index, and `vectors.npy` (the full-precision rows re-ranking reads: the
    database's column in production), from --chunk rows at a time: never all the vectors in
    memory. Up to --chunk vectors: ClipIndex.build on all of them, as index_rebuild does. Above:
    ClipIndex.build on the first chunk (training on --training-samples of it), with the number
    of lists production picks for the whole count, then ClipIndex.add chunk by chunk. Seconds
    are those of build and add only (not of generating or writing the vectors)."""
    config = FloatIndexConfig(dim=args.dim)
    if args.vectors > args.chunk:  # the lists index_rebuild would pick for all the vectors
        nlist = config.nlist or index_module._default_nlist(args.vectors)
        kind = "ivfsq" if args.vectors > config.flat_max_size else config.kind
        config = dataclasses.replace(config, nlist=nlist, kind=kind)
    stored = np.lib.format.open_memmap(
        args.dir / "vectors.npy", mode="w+", dtype=np.float32, shape=(args.vectors, args.dim)
    )
    chunks = unit_vector_chunks(args.vectors, args.dim, seed=2, chunk=args.chunk)
    seconds, first = 0.0, 0
    embedding: ClipIndex | None = None
    for vectors in chunks:
        ids = np.arange(first, first + len(vectors), dtype=np.int64)
        started = time.perf_counter()
        if embedding is None:
            embedding = ClipIndex.build(vectors, ids, config)
            embedding.config = FloatIndexConfig(dim=args.dim)  # the manifest's, as production's
        else:
            embedding.add(vectors, ids)
        seconds += time.perf_counter() - started
        stored[first : first + len(vectors)] = vectors
        stored.flush()  # written back chunk by chunk: clean pages the kernel can drop
        first += len(vectors)
        print(f"embedding: {first} vectors indexed, {seconds:.1f} s", file=sys.stderr, flush=True)
    del stored
    if embedding is None:  # --vectors 0
        embedding = ClipIndex.build(
            np.zeros((0, args.dim), np.float32), np.zeros(0, np.int64), config
        )
    return embedding, seconds


def build_bases(args: argparse.Namespace, hashes: np.ndarray) -> dict[str, Any]:
    index_module.MAX_TRAINING_SAMPLES = args.training_samples  # build time is not measured here
    ids = np.arange(len(hashes), dtype=np.int64)
    faiss.omp_set_num_threads(args.build_threads)
    started = time.perf_counter()
    pdq = PdqIndex.build(hashes, ids, BinaryIndexConfig())
    pdq_built = time.perf_counter() - started
    embedding, embedding_built = build_embedding(args)
    faiss.omp_set_num_threads(1)
    timings = {}
    for folder in (args.dir / "live", args.dir / "rewrite"):
        for name, index in ((PDQ, pdq), (EMBEDDING, embedding)):
            started = time.perf_counter()
            save_index(folder, name, index)
            timings[f"{name}_write_s"] = round(time.perf_counter() - started, 2)
    os.sync()  # written pages clean, so mapped pages count as Shared_Clean, not dirty
    return {
        PDQ: {"kind": pdq.kind, "build_s": round(pdq_built, 2)},
        EMBEDDING: {"kind": embedding.kind, "build_s": round(embedding_built, 2)},
        **timings,
        "files_mb": {
            path.name: round(path.stat().st_size / MB, 1)
            for path in sorted((args.dir / "live").iterdir())
            if path.name.endswith((".faiss", ".mih", ".npy"))
        },
    }


def queries(args: argparse.Namespace, hashes: np.ndarray, vectors: np.ndarray) -> tuple[list, list]:
    rng = np.random.default_rng(7)
    rows = rng.choice(len(hashes), size=args.queries, replace=False)
    pdq = [
        np.vstack(
            [
                flipped(hashes[row : row + 1], 8, seed=int(row)),
                rng.integers(0, 256, (7, 32), dtype=np.uint8),
            ]
        )
        for row in rows
    ]
    embedding = []
    for row in rows % len(vectors):
        pair = vectors[[row, (row * 7919) % len(vectors)]] + 0.05 * rng.standard_normal(
            (2, args.dim)
        )
        embedding.append((pair / np.linalg.norm(pair, axis=1, keepdims=True)).astype(np.float32))
    return pdq, embedding


def start_readers(
    args: argparse.Namespace, data: dict[str, Any]
) -> list[tuple[str, Connection, Any]]:
    context = multiprocessing.get_context("spawn")  # fresh processes: nothing inherited
    readers = []
    kinds = [("mapped", True)] * args.readers + (
        [("private", False)] if args.private_reader else []
    )
    for number, (kind, mmap) in enumerate(kinds):
        mine, theirs = context.Pipe()
        process = context.Process(
            target=reader_main, args=(theirs, str(args.dir / "live"), mmap, data)
        )
        process.start()
        readers.append((f"{kind}-{number}", mine, process))
    return readers


def ask(
    readers: list[tuple[str, Connection, Any]], command: str, argument: Any = None
) -> dict[str, Any]:
    """Every reader's answer, asked one after the other (so a reader's timings do not share
    this machine's few cores with another reader's)."""
    answers = {}
    for name, connection, _ in readers:
        connection.send((command, argument))
        answers[name] = connection.recv()
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--readers", type=int, default=2, help="memory-mapping reader processes")
    parser.add_argument("--private-reader", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--deltas", type=int, default=8)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--poll-ms", type=float, default=5.0)
    parser.add_argument("--training-samples", type=int, default=index_module.MAX_TRAINING_SAMPLES)
    parser.add_argument(
        "--chunk",
        type=int,
        default=1_000_000,
        help="vectors generated, added and written at a time (a multiple of 100,000)",
    )
    parser.add_argument(
        "--build-threads", type=int, default=1, help="FAISS threads for building (readers: 1)"
    )
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp one)")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-index-delta-") as temp:
        args.dir = args.dir or Path(temp)
        print(json.dumps(run(args), indent=1))


def run(args: argparse.Namespace) -> dict[str, Any]:
    hashes = np.random.default_rng(1).integers(0, 256, (args.hashes, 32), dtype=np.uint8)
    args.dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"hashes": args.hashes, "vectors": args.vectors, "dim": args.dim}
    result["bases"] = build_bases(args, hashes)
    vectors = np.load(args.dir / "vectors.npy", mmap_mode="r")  # only the query rows are read
    pdq_queries, embedding_queries = queries(args, hashes, vectors)
    data = {
        "vectors_path": str(args.dir / "vectors.npy"),
        "pdq_queries": pdq_queries,
        "embedding_queries": embedding_queries,
        "poll_s": args.poll_ms / 1000,
    }
    del vectors  # the readers read rows of the saved copy; the writer needs none of it now
    readers = start_readers(args, data)
    try:
        loaded = {name: connection.recv() for name, connection, _ in readers}
        result["readers"] = {
            name: {"load_s": info["load_s"], "memory_mb": memory}
            for (name, info), memory in zip(
                loaded.items(), ask(readers, "memory").values(), strict=True
            )
        }
        result["latency_ms"] = {"base": ask(readers, "latency", {})}
        result.update(publish_and_watch(args, readers))
        extra = result.pop("extra")
        ask(readers, "latency", extra)  # warm-up: the pages of the new layers
        result["latency_ms"][f"base+{args.deltas}_deltas"] = ask(readers, "latency", extra)
        result["readers_after_deltas_mb"] = ask(readers, "memory")
    finally:
        for _, connection, process in readers:
            connection.send(("exit", None))
            process.join(timeout=30)
    return result


def new_row(row_id: int, seed: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vector = rng.standard_normal(dim).astype(np.float32)
    return rng.integers(0, 256, 32, dtype=np.uint8), vector / np.linalg.norm(vector)


def adding(row: np.ndarray, row_id: int) -> Callable[[Any], None]:
    """Adds `row` (a hash or a vector) as `row_id` to the index it is given."""

    def add(index: Any) -> None:
        index.add(row[None], [row_id])

    return add


def publish_and_watch(args: argparse.Namespace, readers: list) -> dict[str, Any]:
    live, rewrite = args.dir / "live", args.dir / "rewrite"
    first = args.hashes + 1
    pdq_hash, vector = new_row(first, seed=first, dim=args.dim)
    add_pdq, add_vector = adding(pdq_hash, first), adding(vector, first)
    for _, connection, _ in readers:
        connection.send(("watch", {"id": first, "hash": pdq_hash, "vector": vector}))
    time.sleep(0.5)  # every reader is polling before the publish starts
    started = time.monotonic()
    publish = {
        PDQ: {"delta": publish_delta(live, PDQ, add_pdq, [first])},
        EMBEDDING: {"delta": publish_delta(live, EMBEDDING, add_vector, [first])},
    }
    seen = {name: connection.recv() for name, connection, _ in readers}
    visible = {
        name: {index: round(at - started, 4) for index, at in times.items()}
        for name, times in seen.items()
    }
    publish[PDQ]["rewrite"] = publish_rewrite(rewrite, PDQ, add_pdq)
    publish[EMBEDDING]["rewrite"] = publish_rewrite(rewrite, EMBEDDING, add_vector)
    extra = {first: vector}
    for step in range(1, args.deltas):  # more deltas, each adding one reference, removing one
        row_id = first + step
        pdq_hash_n, vector_n = new_row(row_id, seed=row_id, dim=args.dim)
        extra[row_id] = vector_n
        publish_delta(live, PDQ, adding(pdq_hash_n, row_id), [row_id, step])
        publish_delta(live, EMBEDDING, adding(vector_n, row_id), [row_id, step])
    return {"publish": publish, "visible_s": visible, "extra": extra}


if __name__ == "__main__":
    main()
