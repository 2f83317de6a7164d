import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from detection.core.faces import Face
from detection.core.interface import DetectorConfig, DetectorResult
from detection.core.registry import FORENSIC_CONFIGS, analyze_image, build_suite


def test_config_loads_from_json_and_resolves_weights_next_to_it(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    path.write_text(
        json.dumps(
            {
                "name": "net",
                "version": "2",
                "kind": "multitask",
                "weights": "net.pt",
                "thresholds": {"map": 0.4},
                "weights_licence": "Apache-2.0",
                "fusion": {"x": 1},
            }
        )
    )
    config = DetectorConfig.from_json(path)
    assert config.weights_path() == tmp_path / "net.pt"
    assert config.thresholds == {"map": 0.4} and config.params["fusion"] == {"x": 1}
    path.write_text(json.dumps({"name": "net"}))
    with pytest.raises(ValueError, match=r"net\.json"):
        DetectorConfig.from_json(path)


def test_result_rejects_out_of_range_scores() -> None:
    with pytest.raises(ValueError):
        DetectorResult(1.5, None, "bad")


@pytest.fixture(scope="module")
def forensic_suite():
    return build_suite(list(FORENSIC_CONFIGS))


def test_analyze_image_produces_the_detection_section(forensic_suite) -> None:
    image = data.astronaut()
    report = analyze_image(image, forensic_suite)
    detection = report["detection"]
    assert report["applicable"] is True
    assert 0.0 <= detection["manipulation_probability"] <= 1.0
    assert [d["name"] for d in detection["detectors"]] == ["ela", "noise", "jpeg_ghost"]
    assert detection["faces"] and len(detection["faces"][0]["bbox"]) == 4
    assert report["forensic_map"].shape == image.shape[:2]
    assert report["forensic_map"].dtype == np.uint8
    assert report["models"] == {"ela": "1", "noise": "1", "jpeg_ghost": "1"}
    assert report["reasons"][0].startswith(("likely manipulated", "no clear sign"))
    assert all("\n" not in reason for reason in report["reasons"])
    assert report["timings_ms"]["total"] >= report["timings_ms"]["ela"]
    json.dumps(detection)  # the section is JSON-safe


@pytest.mark.parametrize(
    "image", [np.zeros((30, 400, 3), np.uint8), np.full((300, 300, 3), 200, np.uint8)]
)
def test_tiny_or_blank_images_get_a_reason_not_a_score(forensic_suite, image) -> None:
    report = analyze_image(image, forensic_suite)
    assert report["applicable"] is False
    assert report["detection"]["manipulation_probability"] is None
    assert len(report["reasons"]) == 1


def test_grayscale_input_is_accepted(forensic_suite) -> None:
    report = analyze_image(data.camera(), forensic_suite)
    assert report["forensic_map"].shape == data.camera().shape


def test_images_above_the_pixel_limit_are_analysed_downscaled(forensic_suite, monkeypatch):
    from detection.core import registry

    image = cv2.resize(data.astronaut(), (300, 200))
    monkeypatch.setattr(registry, "MAX_ANALYSIS_PIXELS", 300 * 200)
    at_limit = analyze_image(image, forensic_suite)
    assert not any("downscaled" in reason for reason in at_limit["reasons"])
    monkeypatch.setattr(registry, "MAX_ANALYSIS_PIXELS", 300 * 200 - 1)
    report = analyze_image(image, forensic_suite)
    assert report["forensic_map"].shape == (200, 300)  # back on the image grid
    assert any("downscaled from 300x200" in reason for reason in report["reasons"])
    assert len(report["reasons"]) <= registry.MAX_REASONS


class _CentreFaceFinder:
    """Reports one face covering the central quarter of whatever image it is given, its eyes a
    quarter of the way down."""

    name = "centre"

    def find(self, image: np.ndarray) -> list[Face]:
        height, width = image.shape[:2]
        eyes = ((width * 0.4, height * 0.25), (width * 0.6, height * 0.25))
        box = (width // 4, height // 4, width // 2, height // 2)
        return [Face(box, confidence=0.9, landmarks=(*eyes, *eyes, (width * 0.5, height * 0.5)))]


def test_face_boxes_of_a_downscaled_analysis_are_in_full_image_coordinates(monkeypatch):
    from detection.core import registry

    suite = build_suite(list(FORENSIC_CONFIGS), faces=False)
    suite.face_finder = _CentreFaceFinder()
    monkeypatch.setattr(registry, "MAX_ANALYSIS_PIXELS", 256 * 256)
    faces = analyze_image(data.astronaut(), suite)["detection"]["faces"]  # 512 x 512
    assert faces == [
        {
            "bbox": [128, 128, 256, 256],
            "manipulation_probability": None,
            "confidence": 0.9,
            "landmarks": [[204.8, 128.0], [307.2, 128.0]] * 2 + [[256.0, 256.0]],
        }
    ]
