"""Multi-index hashing (Norouzi, Punjani & Fleet, CVPR 2012) for exact Hamming search within a
radius over packed 256-bit PDQ hashes.

The hash is cut into m = 256 // bits substrings, each indexed by a bucket table. By pigeonhole,
two hashes within distance r agree up to floor(r / m) bits on at least one substring, so probing
every bucket within `flips` bit flips of each query substring finds ALL neighbours within
radius = m * (flips + 1) - 1 (exactly, no recall loss inside the radius). Candidates are then
checked on the full hash (one 32-byte row, i.e. one cache line, per candidate). Nothing farther
than the radius is returned.

faiss has `IndexBinaryMultiHash`, but it probes with a per-bucket hash map and was ~20x slower
here; this implementation keeps buckets as CSR arrays (offsets + postings), which numpy probes
and gathers in a few vectorised operations for all eight dihedral query hashes at once.

The tables, ids and hashes (~180 bytes per hash) can be written to one file (`write`) and
memory-mapped (`from_file`), so the worker processes of a machine share one copy instead of each
building its own. Each array starts 64-byte aligned: a view of the hashes inside a FAISS file
(at an odd offset) made every candidate check 3x slower.
"""

from __future__ import annotations

import json
import math
import os
from itertools import combinations, pairwise
from typing import BinaryIO

import numpy as np

HASH_BITS = 256
MISSING_ID = -1
TABLES_FORMAT = 1
TABLES_HEADER_BYTES = 4096  # JSON header, padded; arrays follow, each TABLES_ALIGN-aligned
TABLES_ALIGN = 64


def substring_keys(codes: np.ndarray, bits: int) -> np.ndarray:
    """(n, 256 // bits) int64 keys of consecutive `bits`-bit substrings (leftover bits unused)."""
    count = HASH_BITS // bits
    if bits == 16:  # fast path: big-endian 16-bit words are exactly the substrings
        return np.ascontiguousarray(codes).view(">u2").astype(np.int64)
    weights = 1 << np.arange(bits - 1, -1, -1, dtype=np.int64)
    keys = np.empty((len(codes), count), np.int64)
    for start in range(0, len(codes), 65_536):
        chunk = np.unpackbits(codes[start : start + 65_536], axis=1)[:, : count * bits]
        keys[start : start + 65_536] = chunk.reshape(-1, count, bits).astype(np.int64) @ weights
    return keys


def flip_masks(bits: int, flips: int) -> np.ndarray:
    """Every `bits`-bit value with at most `flips` bits set (0 first)."""
    masks = [0]
    for flipped in range(1, flips + 1):
        masks.extend(
            sum(1 << bit for bit in chosen) for chosen in combinations(range(bits), flipped)
        )
    return np.array(masks, np.int64)


def mask_count(bits: int, flips: int) -> int:
    """len(flip_masks(bits, flips)), without enumerating them (that took ~40 % of a search)."""
    return sum(math.comb(bits, flipped) for flipped in range(flips + 1))


class MultiIndexHash:
    """Immutable search structure over `codes` (n, 32) uint8 labelled by `ids` (n,) int64."""

    def __init__(self, codes: np.ndarray, ids: np.ndarray, bits: int = 16, flips: int = 2) -> None:
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        self._setup(codes, ids, bits, flips)
        self._build(substring_keys(codes, bits), len(codes))

    def _setup(self, codes: np.ndarray, ids: np.ndarray, bits: int, flips: int) -> None:
        if not 4 <= bits <= 24:
            raise ValueError("substring bits must be between 4 and 24")
        self.bits, self.flips = bits, flips
        self.tables = HASH_BITS // bits
        self.stride = (1 << bits) + 1
        self.radius = self.radius_for(flips)
        self.ids = np.asarray(ids, dtype=np.int64)
        # Rows of four 64-bit words: a candidate costs one cache line, not four (word order only
        # has to match the queries').
        self.words = codes.view(np.uint64)
        self.masks = flip_masks(bits, flips)

    def write(self, file: BinaryIO) -> None:
        """Everything a search reads, as one file that `from_file` maps."""
        arrays = {
            "words": self.words,
            "ids": self.ids,
            "offsets": self.offsets,
            "postings": self.postings,
        }
        layout: dict[str, list[int | str]] = {}
        starts: dict[str, int] = {}
        position = TABLES_HEADER_BYTES
        for name, array in arrays.items():
            layout[name] = [position, array.dtype.str, int(array.size)]
            starts[name] = position
            position += -(-array.nbytes // TABLES_ALIGN) * TABLES_ALIGN
        header = {"format": TABLES_FORMAT, "bits": self.bits, "flips": self.flips, **layout}
        encoded = json.dumps(header).encode()
        if len(encoded) > TABLES_HEADER_BYTES:
            raise ValueError("multi-index hash header too long")
        file.write(encoded.ljust(TABLES_HEADER_BYTES, b" "))
        for name, array in arrays.items():
            file.seek(starts[name])
            file.write(np.ascontiguousarray(array).tobytes())
        file.truncate(position)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MultiIndexHash:
        """A search structure written by `write`, memory-mapped read-only."""
        mapped = np.memmap(path, dtype=np.uint8, mode="r")
        header = json.loads(bytes(mapped[:TABLES_HEADER_BYTES]).decode())
        if header.get("format") != TABLES_FORMAT:
            raise ValueError(f"unsupported multi-index hash tables format in {path}")

        def array(name: str) -> np.ndarray:
            offset, dtype, size = header[name]
            return mapped[offset : offset + size * np.dtype(dtype).itemsize].view(dtype)

        tables = cls.__new__(cls)
        codes = array("words").view(np.uint8).reshape(-1, HASH_BITS // 8)
        tables._setup(codes, array("ids"), header["bits"], header["flips"])
        tables.offsets, tables.postings = array("offsets"), array("postings")
        return tables

    def _build(self, keys: np.ndarray, n: int) -> None:
        buckets = 1 << self.bits
        # int32 halves the table memory (12 x 2**20 offsets at the default 20 bits).
        offset_type = np.int32 if self.tables * n < np.iinfo(np.int32).max else np.int64
        self.offsets: np.ndarray = np.empty(self.tables * self.stride, offset_type)
        self.postings = np.empty(self.tables * n, np.int32)
        key_type = np.uint16 if self.bits <= 16 else np.uint32  # radix sort for small keys
        for table in range(self.tables):
            column = keys[:, table].astype(key_type)
            base = table * self.stride
            self.offsets[base] = table * n
            counts = np.bincount(column, minlength=buckets)
            np.cumsum(counts, out=self.offsets[base + 1 : base + self.stride])
            self.offsets[base + 1 : base + self.stride] += table * n
            self.postings[table * n : (table + 1) * n] = np.argsort(column, kind="stable")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.postings.nbytes + self.ids.nbytes + self.words.nbytes)

    def radius_for(self, flips: int) -> int:
        return self.tables * (flips + 1) - 1

    def search(
        self, queries: np.ndarray, k: int, flips: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, distances), each (q, k), nearest first; slots without a neighbour within the
        radius hold id -1 and distance 257. `flips` below the built one searches a smaller
        radius (`radius_for(flips)`) with far fewer probes."""
        flips = self.flips if flips is None else flips
        if not 0 <= flips <= self.flips:
            raise ValueError(f"flips must be between 0 and {self.flips}")
        queries = np.ascontiguousarray(queries, dtype=np.uint8)
        masks = self.masks[: mask_count(self.bits, flips)]  # ordered by bits set
        rows, owners, bounds = self._candidates(queries, masks)
        query_words = queries.view(np.uint64)
        distance = np.empty(len(rows), np.int32)
        for query, (start, end) in enumerate(pairwise(bounds)):
            bits = np.bitwise_count(self.words.take(rows[start:end], axis=0) ^ query_words[query])
            distance[start:end] = bits.sum(axis=1, dtype=np.int32)
        alive = distance <= self.radius_for(flips)
        return self._top_k(len(queries), k, rows[alive], owners[alive], distance[alive])

    def _candidates(self, queries: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, ...]:
        keys = substring_keys(queries, self.bits)
        bases = (np.arange(self.tables, dtype=np.int64) * self.stride)[None, :, None]
        probes = ((keys[:, :, None] ^ masks[None, None, :]) + bases).ravel()
        starts = self.offsets[probes].astype(np.int64)
        counts = self.offsets[probes + 1] - starts
        # Probes are grouped by query, so each query's candidates are one contiguous slice.
        per_query = counts.reshape(len(queries), -1).sum(axis=1)
        bounds = np.concatenate([[0], np.cumsum(per_query)])
        first = np.cumsum(counts) - counts
        positions = np.repeat(starts - first, counts) + np.arange(int(bounds[-1]))
        owners = np.repeat(np.arange(len(queries)), per_query)
        return self.postings[positions], owners, bounds

    def _top_k(
        self, n_queries: int, k: int, rows: np.ndarray, owners: np.ndarray, distance: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full((n_queries, k), MISSING_ID, np.int64)
        distances = np.full((n_queries, k), HASH_BITS + 1, np.int32)
        if len(rows) == 0:
            return ids, distances
        order = np.lexsort((rows, distance, owners))
        rows, owners, distance = rows[order], owners[order], distance[order]
        # A row found through several substrings appears once per table: keep the first.
        fresh = np.ones(len(rows), bool)
        fresh[1:] = (rows[1:] != rows[:-1]) | (owners[1:] != owners[:-1])
        rows, owners, distance = rows[fresh], owners[fresh], distance[fresh]
        rank = np.arange(len(rows)) - np.searchsorted(owners, owners)
        keep = rank < k
        ids[owners[keep], rank[keep]] = self.ids[rows[keep]]
        distances[owners[keep], rank[keep]] = distance[keep]
        return ids, distances
