"""Explicit-content regions (detection.core.explicit): NudeNet's boxes filtered, clipped and
ordered, and the bundled model itself loading and running on CPU."""

from __future__ import annotations

from typing import Any

import numpy as np

from detection.core.explicit import (
    MAX_EXPLICIT_REGIONS,
    MIN_EXPLICIT_SCORE,
    ExplicitRegion,
    explicit_detector,
    explicit_regions,
)


class FakeDetector:
    def __init__(self, found: list[dict[str, Any]]) -> None:
        self.found = found
        self.seen: np.ndarray | None = None

    def detect(self, image_path: Any) -> list[dict[str, Any]]:
        self.seen = image_path
        return self.found


def image(height: int = 100, width: int = 200) -> np.ndarray:
    picture = np.zeros((height, width, 3), dtype=np.uint8)
    picture[..., 0] = 255  # red in RGB
    return picture


def test_only_exposed_parts_above_the_score_count_highest_first() -> None:
    fake = FakeDetector(
        [
            {"class": "FACE_FEMALE", "score": 0.95, "box": [1, 1, 10, 10]},
            {"class": "FEMALE_BREAST_COVERED", "score": 0.9, "box": [1, 1, 10, 10]},
            {"class": "BUTTOCKS_EXPOSED", "score": 0.55, "box": [10, 20, 30, 40]},
            {"class": "FEMALE_BREAST_EXPOSED", "score": 0.8, "box": [50, 10, 20, 20]},
            {"class": "MALE_GENITALIA_EXPOSED", "score": MIN_EXPLICIT_SCORE - 0.01, "box": [0] * 4},
            {"class": "ANUS_EXPOSED", "score": float("nan"), "box": [1, 1, 5, 5]},
        ]
    )
    found = explicit_regions(image(), detector=fake)
    assert found == [
        ExplicitRegion((50, 10, 20, 20), "breast", 0.8),
        ExplicitRegion((10, 20, 30, 40), "buttocks", 0.55),
    ]
    assert found[0].to_dict() == {"bbox": [50, 10, 20, 20], "label": "breast", "score": 0.8}
    assert fake.seen is not None and fake.seen[0, 0].tolist() == [0, 0, 255]  # BGR for NudeNet


def test_boxes_are_clipped_to_the_image_and_empty_ones_dropped() -> None:
    fake = FakeDetector(
        [
            {"class": "BUTTOCKS_EXPOSED", "score": 0.9, "box": [-5, 90, 300, 50]},
            {"class": "BUTTOCKS_EXPOSED", "score": 0.9, "box": [250, 10, 20, 20]},
        ]
    )
    assert explicit_regions(image(), detector=fake) == [
        ExplicitRegion((0, 90, 200, 10), "buttocks", 0.9)
    ]
    many = FakeDetector(
        [{"class": "ANUS_EXPOSED", "score": 0.9, "box": [i, i, 5, 5]} for i in range(40)]
    )
    assert len(explicit_regions(image(), detector=many)) == MAX_EXPLICIT_REGIONS
    assert explicit_regions(np.zeros((4, 4, 3), np.uint8), detector=many) == []
    assert explicit_regions(np.zeros((40, 40), np.uint8), detector=many) == []


def test_the_bundled_model_runs_and_finds_nothing_in_a_landscape() -> None:
    rng = np.random.default_rng(0)
    sky = np.linspace(120, 230, 240, dtype=np.float32)[:, None, None] * np.ones((1, 320, 3))
    picture = np.clip(sky + rng.normal(0, 6, sky.shape), 0, 255).astype(np.uint8)
    assert explicit_detector() is explicit_detector()  # loaded once per process
    assert explicit_regions(picture) == []
