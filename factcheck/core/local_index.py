"""Candidate retrieval by local-descriptor voting, robust to crops, borders and captions.

PDQ is a whole-image hash: a 70 % crop or an added caption band moves it ~100 bits, out of reach
of any safe threshold. CLIP embeddings tolerate that but need pretrained weights. This index
stores up to `per_reference` RootSIFT descriptors of every reference, spread over the picture
(`spread_subset`), as SQ8 codes with one FAISS id per reference (so `remove_ids` drops a whole
reference), and scores references by the number of query descriptors whose nearest neighbour,
passing a database-wide ratio test, belongs to them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import faiss
import numpy as np

from factcheck.core.features import Features
from factcheck.core.index import (
    MAX_TRAINING_SAMPLES,
    MISSING_ID,
    _as_ids,
    _default_nlist,
    _IndexBase,
    _training_sample,
)

DESCRIPTOR_DIM = 128


@dataclass(frozen=True)
class LocalIndexConfig:
    kind: str = "auto"
    flat_max_size: int = 50_000  # descriptors; flat SQ8 scans get slow past this
    per_reference: int = 400
    nlist: int | None = None
    nprobe: int = 16
    ratio: float = 0.85
    min_votes: int = 6
    top_k: int = 10


class LocalIndex(_IndexBase):
    def __init__(self, index: faiss.Index, kind: str, config: LocalIndexConfig) -> None:
        self.index = index
        self.kind = kind
        self.config = config

    @classmethod
    def build(
        cls, features: Mapping[int, Features], config: LocalIndexConfig | None = None
    ) -> LocalIndex:
        """Index every reference of `features`, reading one at a time: a mapping that loads
        lazily (factcheck.indexing) keeps a rebuild's memory at the index's own codes, not every
        reference's full features. The kind is chosen from the upper bound `per_reference` x
        references; an inverted file is trained on the references at evenly spaced positions."""
        config = config or LocalIndexConfig()
        expected = len(features) * config.per_reference
        kind = config.kind
        if kind == "auto":
            kind = "flat" if expected <= config.flat_max_size else "ivf"
        if kind == "flat":
            index: faiss.Index = _flat()
        elif kind == "ivf":
            nlist = config.nlist or _default_nlist(expected)
            quantizer = faiss.IndexFlatL2(DESCRIPTOR_DIM)
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, DESCRIPTOR_DIM, nlist, faiss.ScalarQuantizer.QT_8bit_direct
            )
            index.own_fields = True
            quantizer.this.disown()
            index.train(_training_sample(_sample(features, config.per_reference)))
            index.nprobe = config.nprobe
        else:
            raise ValueError(f"unknown local index kind {kind!r}")
        built = cls(index, kind, config)
        for block in _blocks(features, config.per_reference):
            built.index.add_with_ids(*block)
        return built

    def add(self, ref_id: int, features: Features) -> None:
        self._check_writable()
        descriptors, ids = _stack([(ref_id, features)], self.config.per_reference)
        if len(descriptors):
            self.index.add_with_ids(descriptors, ids)

    def empty_like(self) -> LocalIndex:
        """An empty index with this one's structure (and training), for the rows of a delta."""
        if self.kind == "flat":
            return LocalIndex(_flat(), "flat", self.config)
        return LocalIndex._loaded(self._empty_trained(), self.kind, self.config)

    def __len__(self) -> int:  # descriptors, not references
        return int(self.index.ntotal)

    def neighbours(self, query: Features) -> tuple[np.ndarray, np.ndarray]:
        """(reference ids, squared L2 distances), both (descriptors, 2): the two nearest indexed
        descriptors of each query descriptor, which the ratio test compares."""
        distances, ids = self.index.search(_quantizable(query.descriptors), 2)
        return ids, distances

    def search_votes(self, query: Features) -> dict[int, int]:
        """{reference id: votes} for references with at least `min_votes`, most votes first."""
        if len(self) < 2 or len(query) == 0:
            return {}
        return votes(*self.neighbours(query), self.config)

    @classmethod
    def _loaded(cls, index: faiss.Index, kind: str, config: LocalIndexConfig) -> LocalIndex:
        if kind == "ivf":
            faiss.extract_index_ivf(index).nprobe = config.nprobe
        return cls(index, kind, config)


def _flat() -> faiss.Index:
    # IDMap, not IDMap2: many descriptors share one reference id.
    return faiss.IndexIDMap(
        faiss.IndexScalarQuantizer(DESCRIPTOR_DIM, faiss.ScalarQuantizer.QT_8bit_direct)
    )


def votes(ids: np.ndarray, distances: np.ndarray, config: LocalIndexConfig) -> dict[int, int]:
    """{reference id: votes} from each query descriptor's two nearest neighbours (ids and
    squared distances, (descriptors, 2)): a descriptor votes for its nearest reference when it
    passes Lowe's ratio test. References with at least `min_votes`, most votes first."""
    # Squared L2: Lowe's ratio on distances is ratio**2 on squared distances.
    passed = (ids[:, 0] != MISSING_ID) & (distances[:, 0] < config.ratio**2 * distances[:, 1])
    # Two neighbours from the same reference are not ambiguous between references.
    passed |= (ids[:, 0] == ids[:, 1]) & (ids[:, 0] != MISSING_ID)
    counts = Counter(ids[passed, 0].tolist())
    ranked = [(ref, n) for ref, n in counts.most_common(config.top_k) if n >= config.min_votes]
    return dict(ranked)


def _quantizable(descriptors: np.ndarray) -> np.ndarray:
    """RootSIFT values lie in [0, 1]; x255 makes them exact inputs for 8-bit direct codes, which
    need no training (so an empty index can be created and grown incrementally)."""
    return np.ascontiguousarray(np.asarray(descriptors, np.float32) * 255.0)


SPREAD_GRID = 4


def spread_subset(features: Features, count: int) -> np.ndarray:
    """Indices of up to `count` keypoints taken round-robin over a SPREAD_GRID x SPREAD_GRID grid
    (each cell in extraction order), so a crop of any part of the picture keeps descriptors in
    the index; the first `count` in extraction order can cluster in one region."""
    if len(features) <= count:
        return np.arange(len(features))
    height, width = features.image_size
    cells = (
        np.minimum(features.points[:, 1] * SPREAD_GRID // max(height, 1), SPREAD_GRID - 1)
        * SPREAD_GRID
        + np.minimum(features.points[:, 0] * SPREAD_GRID // max(width, 1), SPREAD_GRID - 1)
    ).astype(np.int64)
    # Rank of each keypoint within its cell; taking ranks 0, 1, 2, ... interleaves the cells.
    order = np.argsort(cells, kind="stable")
    first_of_cell = np.searchsorted(cells[order], cells[order])
    rank = np.empty(len(cells), np.int64)
    rank[order] = np.arange(len(cells)) - first_of_cell
    chosen = np.lexsort((np.arange(len(cells)), rank))[:count]
    return np.sort(chosen)


def _stack(
    features: Iterable[tuple[int, Features]], per_reference: int
) -> tuple[np.ndarray, np.ndarray]:
    """(codes input, ids) of every reference's spread subset; each reference's full features
    can be dropped as soon as its subset is taken (`features` may be a generator)."""
    blocks, ids = [], []
    for ref_id, feature in features:
        descriptors = feature.descriptors[spread_subset(feature, per_reference)]
        blocks.append(_quantizable(descriptors))
        ids.append(np.full(len(descriptors), ref_id, dtype=np.int64))
    if not blocks:
        return np.zeros((0, DESCRIPTOR_DIM), np.float32), np.zeros(0, np.int64)
    return np.concatenate(blocks), _as_ids(np.concatenate(ids))


ADD_BLOCK_REFERENCES = 256  # references stacked per add_with_ids call while building


def _blocks(
    features: Mapping[int, Features], per_reference: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(codes input, ids) for ADD_BLOCK_REFERENCES references at a time."""
    ids = list(features)
    for start in range(0, len(ids), ADD_BLOCK_REFERENCES):
        chunk = ids[start : start + ADD_BLOCK_REFERENCES]
        descriptors, labels = _stack(
            ((ref_id, features[ref_id]) for ref_id in chunk), per_reference
        )
        if len(descriptors):
            yield descriptors, labels


def _sample(features: Mapping[int, Features], per_reference: int) -> np.ndarray:
    """Training input for the inverted file: the references at evenly spaced positions, as
    many as MAX_TRAINING_SAMPLES descriptors need."""
    ids = list(features)
    wanted = max(1, MAX_TRAINING_SAMPLES // max(1, per_reference))
    chosen = ids[:: max(1, len(ids) // wanted)][:wanted]
    descriptors, _ = _stack(((ref_id, features[ref_id]) for ref_id in chosen), per_reference)
    return descriptors
