"""One searchable index made of a base, the deltas appended since and the rows removed since.

A published version of an index (factcheck.core.index_store) is a base plus an ordered list of
deltas, each a small index holding the rows one update added, plus the ids removed since the
base. Layer 0 is the base, delta i is layer i. A removal hides an id in every layer older than
the removal (`HiddenRows`), so an id removed and added again lives on in the newer layer.

Searching every layer and merging gives what one index holding the live rows gives: a delta of
an exact index (flat, multi-index hashing) is searched exactly, with the base's radius; a delta
of an inverted file has the base's trained structure (same coarse quantizer, transform and
codec), so it scores and probes a row exactly as the base would have after adding it (what an
incremental update did before deltas existed). Each layer is asked for k neighbours after its
hidden rows are dropped, asking again for more where dropping starved a query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from factcheck.core.faiss_io import CoarseAssignment, coarse_assignment, search_assigned
from factcheck.core.features import Features
from factcheck.core.fingerprints import PDQ_BITS
from factcheck.core.index import (
    MISSING_ID,
    ClipIndex,
    ExactVectors,
    PdqIndex,
    _check_hashes,
    _check_vectors,
    _rerank,
)
from factcheck.core.local_index import LocalIndex, _quantizable, votes

# A layer is first asked for this many extra neighbours per hidden id (up to k more): enough
# for the usual few removals, so asking again (x RETRY_GROWTH) stays rare.
RETRY_GROWTH = 4

# (rows of the queries, k) -> (ids, scores), each (len(rows), k), best first, -1 for none.
RowSearch = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
LayerSearch = Callable[[Any, np.ndarray, int], tuple[np.ndarray, np.ndarray]]
Part = tuple[np.ndarray, np.ndarray, np.ndarray]  # (ids, scores, found) of one layer


class HiddenRows:
    """Ids removed since the base; the rows of `ids[i]` in layers below `below[i]` are hidden."""

    def __init__(self, ids: np.ndarray, below: np.ndarray) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids = np.ascontiguousarray(ids[order], dtype=np.int64)
        self.below = np.ascontiguousarray(below[order], dtype=np.int64)

    @classmethod
    def none(cls) -> HiddenRows:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64))

    @classmethod
    def from_array(cls, pairs: np.ndarray) -> HiddenRows:
        """From the (m, 2) int64 [id, below] array a manifest's removed file holds."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        return cls(pairs[:, 0], pairs[:, 1])

    def to_array(self) -> np.ndarray:
        return np.stack([self.ids, self.below], axis=1)

    def __len__(self) -> int:
        return len(self.ids)

    def below_of(self, ids: np.ndarray) -> np.ndarray:
        """Per id, the layer from which its rows are visible (0: never removed)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(self.ids):
            return np.zeros(ids.shape, np.int64)
        position = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[position] == ids, self.below[position], 0)

    def in_layer(self, ids: np.ndarray, layer: int) -> np.ndarray:
        """True where a row of `ids` found in `layer` is hidden."""
        return self.below_of(ids) > layer

    def hiding(self, ids: np.ndarray, below: int) -> HiddenRows:
        """These records plus `ids` hidden in every layer below `below`."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        kept = ~np.isin(self.ids, ids)
        return HiddenRows(
            np.concatenate([self.ids[kept], ids]),
            np.concatenate([self.below[kept], np.full(len(ids), below, np.int64)]),
        )


def _layer_search(
    search: RowSearch, queries: int, k: int, hidden: HiddenRows, layer: int, size: int
) -> Part:
    """(ids, scores, found) of one layer without its hidden rows; `found` marks real slots."""
    if not len(hidden):
        ids, scores = search(np.arange(queries), k)
        return ids, scores, ids != MISSING_ID
    out_ids = np.full((queries, k), MISSING_ID, np.int64)
    out_scores: np.ndarray | None = None
    found = np.zeros((queries, k), bool)
    pending, fetch = np.arange(queries), min(k + min(len(hidden), k), max(size, 1))
    while len(pending):
        ids, scores = search(pending, fetch)
        if out_scores is None:
            out_scores = np.zeros((queries, k), scores.dtype)
        alive = (ids != MISSING_ID) & ~hidden.in_layer(ids, layer)
        # A full answer may hide more rows behind hidden ones; a short one had them all.
        done = (alive.sum(axis=1) >= k) | (ids[:, -1] == MISSING_ID) | (fetch >= size)
        order = np.argsort(~alive, axis=1, kind="stable")[:, :k]  # alive first, rank kept
        rows, width = pending[done], order.shape[1]  # fewer than k in a layer smaller than k
        out_ids[rows, :width] = np.take_along_axis(ids, order, axis=1)[done]
        out_scores[rows, :width] = np.take_along_axis(scores, order, axis=1)[done]
        found[rows, :width] = np.take_along_axis(alive, order, axis=1)[done]
        pending, fetch = pending[~done], min(fetch * RETRY_GROWTH, size)
    assert out_scores is not None
    out_ids[~found] = MISSING_ID
    return out_ids, out_scores, found


def _merge(
    parts: list[Part],
    k: int,
    *,
    descending: bool,
    missing: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The best k of every layer's answers per query (ties: the older layer first)."""
    ids = np.concatenate([part[0] for part in parts], axis=1)
    scores = np.concatenate([part[1] for part in parts], axis=1)
    found = np.concatenate([part[2] for part in parts], axis=1)
    key = -scores.astype(np.float64) if descending else scores.astype(np.float64)
    key[~found] = np.inf
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    ids = np.take_along_axis(ids, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    empty = ~np.take_along_axis(found, order, axis=1)
    ids[empty], scores[empty] = MISSING_ID, missing
    if ids.shape[1] < k:  # fewer slots than k in all layers together
        pad = k - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=MISSING_ID)
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=missing)
    return ids, scores


class _Layered:
    """What the three kinds share: layers, hidden rows and the live count."""

    def __init__(self, layers: Sequence[Any], hidden: HiddenRows, count: int) -> None:
        self.layers = list(layers)
        self.hidden = hidden
        self.count = count
        self.base = self.layers[0]
        self.kind: str = self.base.kind
        self.config: Any = self.base.config

    def __len__(self) -> int:
        return self.count

    def _coarse(self, queries: np.ndarray) -> CoarseAssignment | None:
        """The base's coarse assignment of `queries`, shared by every layer (inverted files on
        the CPU; a GPU copy searches on its own)."""
        if getattr(self.base, "_search_index", self.base.index) is not self.base.index:
            return None
        return coarse_assignment(self.base.index, queries)

    def _parts(self, search: LayerSearch, queries: int, k: int) -> list[Part]:
        """Each non-empty layer's k best live rows; `search(layer, rows, n)` searches one."""
        return [
            _layer_search(partial(search, layer), queries, k, self.hidden, number, len(layer))
            for number, layer in enumerate(self.layers)
            if len(layer)
        ]


class LayeredPdqIndex(_Layered):
    """PdqIndex.search over a base and its deltas: exact for flat bases; for a multi-index hash
    base, the base's radius (and dihedral radius) also bounds what the flat deltas return."""

    layers: list[PdqIndex]
    base: PdqIndex

    @property
    def radius(self) -> int | None:
        return self.base.radius

    @property
    def dihedral_radius(self) -> int | None:
        return self.base.dihedral_radius

    def search(
        self, queries: np.ndarray, k: int, primary: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like PdqIndex.search: (ids, hamming distances), both (q, k); missing slots -1."""
        queries = _check_hashes(queries)
        primary = len(queries) if primary is None else min(primary, len(queries))
        radius = np.full(len(queries), PDQ_BITS, np.int32)
        if self.radius is not None and self.dihedral_radius is not None:
            radius[:primary], radius[primary:] = self.radius, self.dihedral_radius

        def search(layer: PdqIndex, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
            # Rows are ascending, so the first `wide` ones are the primary queries.
            wide = int(np.count_nonzero(rows < primary))
            ids, distances = layer.search(queries[rows], n, primary=wide)
            beyond = distances > radius[rows][:, None]  # a flat delta of a radius-bound base
            ids[beyond], distances[beyond] = MISSING_ID, PDQ_BITS + 1
            return ids, distances

        parts = self._parts(search, len(queries), k)
        if not parts:
            return self.base.search(queries, k, primary)
        return _merge(parts, k, descending=False, missing=PDQ_BITS + 1)


class LayeredClipIndex(_Layered):
    """ClipIndex.search over a base and its deltas, with the same exact re-ranking: every layer
    proposes its `rerank_factor * k` best by its own (compressed) scores, the best of those
    across layers are re-ranked exactly, as one index would have proposed them."""

    layers: list[ClipIndex]
    base: ClipIndex

    def search(
        self, queries: np.ndarray, k: int, exact_vectors: ExactVectors | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like ClipIndex.search: (ids, cosine similarities), both (q, k), best first."""
        queries = _check_vectors(queries, self.config.dim)
        rerank = exact_vectors is not None and self.kind != "flat" and self.config.rerank_factor > 1
        fetch = k * self.config.rerank_factor if rerank else k
        assignment = self._coarse(queries)

        def search(layer: ClipIndex, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
            if assignment is None:
                return layer.search(queries[rows], n)
            similarities, ids = search_assigned(layer.index, assignment, rows, n)
            return ids.astype(np.int64), similarities

        parts = self._parts(search, len(queries), fetch)
        if not parts:
            return self.base.search(queries, k, exact_vectors)
        ids, similarities = _merge(parts, fetch, descending=True, missing=-np.inf)
        if rerank:
            assert exact_vectors is not None
            return _rerank(queries, ids, exact_vectors, k)
        return ids, similarities.astype(np.float32)


class LayeredLocalIndex(_Layered):
    """LocalIndex.search_votes over a base and its deltas: the ratio test takes each query
    descriptor's two nearest live descriptors across all layers."""

    layers: list[LocalIndex]
    base: LocalIndex

    def neighbours(self, query: Features) -> tuple[np.ndarray, np.ndarray]:
        """Like LocalIndex.neighbours: (reference ids, squared distances), (descriptors, 2)."""
        descriptors = _quantizable(query.descriptors)
        assignment = self._coarse(descriptors)

        def search(layer: LocalIndex, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
            if assignment is None:
                distances, ids = layer.index.search(descriptors[rows], n)
            else:
                distances, ids = search_assigned(layer.index, assignment, rows, n)
            return ids, distances

        parts = self._parts(search, len(descriptors), 2)
        if not parts:
            return self.base.neighbours(query)
        return _merge(parts, 2, descending=False, missing=np.inf)

    def search_votes(self, query: Features) -> dict[int, int]:
        """Like LocalIndex.search_votes: {reference id: votes}, most votes first."""
        if len(self) < 2 or len(query) == 0:
            return {}
        return votes(*self.neighbours(query), self.config)


LayeredIndex = LayeredPdqIndex | LayeredClipIndex | LayeredLocalIndex
LAYERED = {PdqIndex: LayeredPdqIndex, ClipIndex: LayeredClipIndex, LocalIndex: LayeredLocalIndex}


def layered(layers: Sequence[Any], hidden: HiddenRows, count: int) -> Any:
    """The base itself when nothing was appended or removed since it, else the layered view."""
    if len(layers) == 1 and not len(hidden):
        return layers[0]
    kind = next(cls for base_class, cls in LAYERED.items() if isinstance(layers[0], base_class))
    return kind(layers, hidden, count)
