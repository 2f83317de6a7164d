import hashlib
import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from detection import selectors
from detection.core.faces import CropScorer, face_crop
from detection.core.registry import DEFAULT_NETWORK_CONFIG, FORENSIC_CONFIG_FILES
from detection.selectors import (
    DetectionUnavailable,
    active_detector_stamps,
    detection_suite,
    image_detection,
    media_metadata,
    reset_detection_suite,
)
from tests.detection.model_files import ConstantScore, export_shipped, tiny_config


@pytest.fixture(autouse=True)
def fresh_suite():
    reset_detection_suite()
    yield
    reset_detection_suite()


def _photo(side: int = 256) -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[:side, 100 : 100 + side])


@pytest.mark.slow  # first use builds the suite (torch, checkpoint, face cascade): ~3 s
def test_image_detection_fills_the_report_detection_section() -> None:
    image = _photo()
    outcome = image_detection(image=image)
    assert outcome.applicable is True and outcome.reason is None
    probability = outcome.detection["manipulation_probability"]
    assert 0.0 <= probability <= 1.0
    names = [d["name"] for d in outcome.detection["detectors"]]
    assert names == ["multitask", "ela", "noise", "jpeg_ghost"]
    assert outcome.models["multitask"] == json.loads(DEFAULT_NETWORK_CONFIG.read_text())["version"]
    assert outcome.forensic_map is not None
    assert outcome.forensic_map.shape == image.shape[:2] and outcome.forensic_map.dtype == np.uint8
    assert outcome.faces is outcome.detection["faces"]
    assert outcome.reasons and "calibrated" in outcome.reasons[0]
    assert outcome.timings_ms["total"] >= outcome.timings_ms["multitask"]
    json.dumps(outcome.detection)


@pytest.mark.slow  # builds the suite
def test_each_face_gets_its_own_calibrated_score_from_its_aligned_crop() -> None:
    outcome = image_detection(image=data.astronaut())
    assert outcome.applicable and len(outcome.faces) == 1
    face = outcome.faces[0]
    suite = detection_suite()
    assert suite.face_finder is not None and suite.face_finder.name == "mtcnn"
    found = suite.face_finder.find(data.astronaut())[0]
    network = suite.detectors[0]
    assert isinstance(network, CropScorer) and suite.face_calibration is not None
    expected = suite.face_calibration(network.score_crop(face_crop(data.astronaut(), found)))
    assert face["manipulation_probability"] == pytest.approx(expected, abs=1e-4)
    assert face["landmarks"] == found.to_dict()["landmarks"] and face["confidence"] > 0.95


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (np.zeros((20, 300, 3), np.uint8), "at least"),
        (np.full((200, 200, 3), 90, np.uint8), "blank"),
        (np.zeros((100, 100, 5), np.uint8), "cannot be analysed"),
    ],
)
def test_images_that_cannot_be_judged_get_a_reason(image: np.ndarray, words: str) -> None:
    outcome = image_detection(image=image)
    assert outcome.applicable is False and outcome.reason is not None and words in outcome.reason
    assert outcome.reasons == [outcome.reason] and outcome.forensic_map is None
    assert outcome.detection == {"manipulation_probability": None, "detectors": [], "faces": []}


def test_suite_is_built_once_per_process_even_under_concurrent_first_use(monkeypatch) -> None:
    built = []

    def slow_build(config_paths, yunet_model, face_finder, calibration):
        time.sleep(0.05)  # widen the race window
        built.append(config_paths)
        return object()

    monkeypatch.setattr(selectors, "_build", slow_build)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(detection_suite())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and all(suite is seen[0] for suite in seen)
    assert detection_suite() is seen[0]


def test_changed_settings_rebuild_the_suite(settings, monkeypatch) -> None:
    monkeypatch.setattr(selectors, "_build", lambda paths, yunet, finder, calibration: finder)
    first = detection_suite()
    settings.DETECTION_FACE_FINDER = "haar"
    assert detection_suite() == "haar" != first


@pytest.mark.slow  # builds the suite
def test_face_finder_setting_picks_the_finder_and_a_bad_one_is_named(settings) -> None:
    settings.DETECTION_FACE_FINDER = "haar"
    assert detection_suite().face_finder.name == "haar"  # type: ignore[union-attr]
    settings.DETECTION_FACE_FINDER = "retina"
    with pytest.raises(DetectionUnavailable, match="unknown face finder 'retina'"):
        detection_suite()


def test_missing_config_names_the_file(settings, tmp_path: Path) -> None:
    settings.DETECTION_NETWORK_CONFIG = str(tmp_path / "absent.json")
    with pytest.raises(DetectionUnavailable, match=r"absent\.json"):
        image_detection(image=_photo())


def _config_with_weights(tmp_path: Path, weights: bytes) -> Path:
    config = json.loads(DEFAULT_NETWORK_CONFIG.read_text())
    config["weights"] = "broken.pt"
    (tmp_path / "broken.pt").write_bytes(weights)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize("weights", [b"not a checkpoint", b""])
def test_corrupt_checkpoint_names_the_file(settings, tmp_path: Path, weights: bytes) -> None:
    settings.DETECTION_NETWORK_CONFIG = str(_config_with_weights(tmp_path, weights))
    with pytest.raises(DetectionUnavailable, match=r"broken\.pt"):
        detection_suite()
    # A failed build is not cached: the next call tries again (and fails the same way).
    with pytest.raises(DetectionUnavailable, match=r"broken\.pt"):
        detection_suite()


def test_malformed_config_names_the_file(settings, tmp_path: Path) -> None:
    path = tmp_path / "garbled.json"
    path.write_text("{not json")
    settings.DETECTION_NETWORK_CONFIG = str(path)
    with pytest.raises(DetectionUnavailable, match=r"garbled\.json"):
        detection_suite()


def test_missing_yunet_model_names_the_file(settings, tmp_path: Path) -> None:
    settings.YUNET_MODEL_FILE = str(tmp_path / "face_detection_yunet.onnx")
    with pytest.raises(DetectionUnavailable, match=r"face_detection_yunet\.onnx"):
        detection_suite()


def _encoded(image_format: str, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    picture = Image.fromarray(_photo(64))
    if exif is not None:
        picture.save(buffer, image_format, exif=exif)
    else:
        picture.save(buffer, image_format)
    return buffer.getvalue()


def test_media_metadata_reports_exif_and_no_c2pa() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Provenant Camera Co"  # Make
    exif[0x0112] = 6  # Orientation
    content = _encoded("JPEG", exif)
    metadata = media_metadata(content=content, image_format="JPEG", width=64, height=64)
    assert metadata["width"] == 64 and metadata["height"] == 64 and metadata["format"] == "JPEG"
    assert metadata["exif"]["make"] == "Provenant Camera Co"
    assert metadata["exif"]["orientation"] == 6 and metadata["exif"]["has_gps"] is False
    assert metadata["c2pa"] is None
    json.dumps(metadata)


def test_media_metadata_without_exif_is_empty() -> None:
    metadata = media_metadata(content=_encoded("PNG"), image_format="PNG", width=64, height=64)
    assert metadata["exif"] == {} and metadata["c2pa"] is None


def test_media_metadata_never_raises_on_garbage(monkeypatch) -> None:
    garbage = b"\xff\xd8\xff" + b"\x00" * 50
    metadata = media_metadata(content=garbage, image_format="JPEG", width=1, height=1)
    assert "error" in metadata["exif"]
    assert metadata["c2pa"] is None or metadata["c2pa"]["state"] == "error"

    def explode(content: bytes) -> None:
        raise RuntimeError("native failure")

    monkeypatch.setattr(selectors, "c2pa_summary", explode)
    metadata = media_metadata(content=garbage, image_format="JPEG", width=1, height=1)
    assert metadata["c2pa"] == {"state": "error", "error": "RuntimeError: native failure"}


def test_media_metadata_counts_the_bytes_after_the_image() -> None:
    content = _encoded("JPEG", Image.Exif())
    plain = media_metadata(content=content, image_format="JPEG", width=64, height=64)
    assert plain["trailing_bytes"] == 0
    trailer = bytes(100) + b"\x01\x02" * 5000  # cameras append second images and maker data
    padded = media_metadata(content=content + trailer, image_format="JPEG", width=64, height=64)
    assert padded["trailing_bytes"] == len(trailer)
    garbage = media_metadata(
        content=b"\xff\xd8\xff" + bytes(50), image_format="JPEG", width=1, height=1
    )
    assert garbage["trailing_bytes"] is None


@pytest.mark.slow  # exports the shipped network and builds a suite: ~5 s
def test_detection_detectors_lists_the_active_and_shadow_detectors(settings, tmp_path) -> None:
    onnx_config = export_shipped(tmp_path, "onnx")
    shadow = tiny_config(tmp_path, "trial", ConstantScore(30.0), extra={"shadow": True})
    settings.DETECTION_DETECTORS = [str(onnx_config), *map(str, FORENSIC_CONFIG_FILES), str(shadow)]
    outcome = image_detection(image=_photo())
    assert [d["name"] for d in outcome.detection["detectors"]] == [
        "multitask",
        "ela",
        "noise",
        "jpeg_ghost",
    ]
    assert outcome.detection["shadow"][0]["name"] == "trial"
    assert outcome.detection["shadow"][0]["score"] == 1.0
    stamps = {stamp["name"]: stamp for stamp in outcome.model_details}
    assert stamps["multitask"]["runtime"] == "onnx"
    assert (
        stamps["multitask"]["config_sha256"] == hashlib.sha256(onnx_config.read_bytes()).hexdigest()
    )
    assert stamps["trial"]["shadow"] is True and "trial" not in outcome.models
    assert [s["name"] for s in active_detector_stamps()] == list(stamps)


def test_detection_detectors_naming_a_missing_file_stops_with_its_name(settings, tmp_path) -> None:
    settings.DETECTION_DETECTORS = [str(FORENSIC_CONFIG_FILES[0]), str(tmp_path / "gone.json")]
    with pytest.raises(DetectionUnavailable, match=r"gone\.json"):
        detection_suite()
    with pytest.raises(DetectionUnavailable, match=r"gone\.json"):
        active_detector_stamps()


def test_detection_detectors_with_a_corrupt_model_file_names_it(settings, tmp_path) -> None:
    config = tiny_config(tmp_path, "tiny", ConstantScore(0.0))
    (tmp_path / "tiny.onnx").write_bytes(b"garbage")
    settings.DETECTION_DETECTORS = [str(config)]
    with pytest.raises(DetectionUnavailable, match=r"tiny\.onnx"):
        detection_suite()


def test_unset_detection_detectors_means_the_network_and_the_forensic_signals() -> None:
    stamps = active_detector_stamps()
    assert [s["name"] for s in stamps] == ["multitask", "ela", "noise", "jpeg_ghost"]
    assert all(s["licence"] == "Apache-2.0" and s["commercial_use"] is True for s in stamps)
    assert (
        stamps[0]["config_sha256"]
        == hashlib.sha256(DEFAULT_NETWORK_CONFIG.read_bytes()).hexdigest()
    )
