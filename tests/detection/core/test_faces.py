import numpy as np
from skimage import data

from detection.core.faces import FaceFinder, analyze_faces, cluster_boxes


class _ConstantScorer:
    def score_crop(self, crop: np.ndarray) -> float:
        assert crop.ndim == 3 and crop.shape[0] > 0
        return 0.25


def test_finds_the_astronauts_face() -> None:
    faces = analyze_faces(data.astronaut(), FaceFinder(), _ConstantScorer())
    assert len(faces) >= 1
    x, y, w, h = faces[0].bbox
    # Eileen Collins' face is around x 180-270, y 60-170 in the 512 px sample.
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 180
    assert faces[0].to_dict() == {"bbox": list(faces[0].bbox), "manipulation_probability": 0.25}


def test_no_faces_in_a_coffee_cup() -> None:
    assert analyze_faces(data.coffee(), FaceFinder(), None) == []


def test_isolated_hits_are_dropped_and_overlapping_hits_merged() -> None:
    boxes = [(10, 10, 40, 40), (12, 11, 40, 40), (200, 200, 30, 30)]
    assert cluster_boxes(boxes, 2) == [(11, 10, 40, 40)]
