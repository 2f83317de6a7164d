import numpy as np

from factcheck.core.features import Features
from factcheck.core.local_index import SPREAD_GRID, spread_subset


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
