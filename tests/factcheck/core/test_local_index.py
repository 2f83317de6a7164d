import tracemalloc
from collections.abc import Iterator, Mapping

import numpy as np

from factcheck.core.features import Features
from factcheck.core.local_index import (
    SPREAD_GRID,
    LocalIndex,
    LocalIndexConfig,
    spread_subset,
)


def _features(points: np.ndarray, size=(400, 400)) -> Features:
    return Features(
        points=points.astype(np.float32),
        descriptors=np.zeros((len(points), 128), np.float32),
        image_size=size,
    )


def test_spread_subset_covers_every_region_of_the_picture():
    rng = np.random.default_rng(0)
    # 900 keypoints in the top-left corner first, then 100 spread everywhere.
    crowded = rng.uniform(0, 90, size=(900, 2))
    everywhere = rng.uniform(0, 400, size=(100, 2))
    features = _features(np.vstack([crowded, everywhere]))
    chosen = spread_subset(features, 200)
    assert len(chosen) == 200 and len(set(chosen.tolist())) == 200
    assert list(chosen) == sorted(chosen)
    cells = {
        (int(y * SPREAD_GRID // 400), int(x * SPREAD_GRID // 400))
        for x, y in features.points[chosen]
    }
    assert len(cells) == SPREAD_GRID * SPREAD_GRID
    # The plain prefix would have kept only the corner.
    assert (features.points[:200] < 90).all()


def test_spread_subset_keeps_everything_when_under_the_limit():
    features = _features(np.array([[1, 1], [300, 300]]))
    assert spread_subset(features, 5).tolist() == [0, 1]


class _GeneratedFeatures(Mapping[int, Features]):
    """1,500 random RootSIFT-like keypoints per reference, made when asked for (like features
    read from storage); counts the reads."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reads = 0

    def __getitem__(self, ref_id: int) -> Features:
        self.reads += 1
        rng = np.random.default_rng(ref_id)
        descriptors = rng.random((1500, 128), dtype=np.float32)
        descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
        return Features(
            points=rng.uniform(0, 800, (1500, 2)).astype(np.float32),
            descriptors=descriptors,
            image_size=(800, 800),
        )

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.count))

    def __len__(self) -> int:
        return self.count


def test_build_reads_references_one_block_at_a_time():
    """A rebuild must not hold every reference's features (issue 15: 1.2 MB per reference ran a
    20k-reference rebuild out of memory): 400 references of 0.77 MB each are 307 MB if held."""
    features = _GeneratedFeatures(400)
    config = LocalIndexConfig(kind="ivf", per_reference=50, nlist=16)
    tracemalloc.start()
    try:
        index = LocalIndex.build(features, config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(index) == 400 * 50 and index.kind == "ivf"
    assert features.reads <= 2 * 400  # the training sample, then every reference once
    assert peak < 64 * 2**20  # the training sample and one block of subsets
    query = features[7]
    assert next(iter(index.search_votes(query))) == 7
