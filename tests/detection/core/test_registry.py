import json
from pathlib import Path

import numpy as np
import pytest
from skimage import data

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
