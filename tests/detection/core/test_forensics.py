import cv2
import numpy as np
import pytest
from skimage import data

from detection.core import forensics
from detection.evaluation.metrics import roc_auc


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    assert decoded is not None
    return decoded


@pytest.fixture(scope="module")
def pasted() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coffee photo with a region from a quality-50 JPEG pasted (grid shifted by 3 px), then
    the whole image saved at quality 92: the classic low-quality splice."""
    base = data.coffee()[:384, :512].copy()
    donor = _jpeg(np.roll(data.astronaut()[:384, :512], 3, axis=(0, 1)), 50)
    mask = np.zeros(base.shape[:2], bool)
    mask[96:224, 160:352] = True
    composite = base.copy()
    composite[mask] = donor[mask]
    return _jpeg(composite, 92), mask, _jpeg(base, 92)


# ELA is the weaker signal here (texture dominates its residual); the ghost is much sharper.
@pytest.mark.parametrize(
    ("signal", "minimum_auc"),
    [(forensics.error_level_analysis, 0.62), (forensics.jpeg_ghost, 0.85)],
)
def test_signal_locates_pasted_jpeg_region_better_than_chance(signal, minimum_auc, pasted) -> None:
    image, mask, _ = pasted
    result = signal(image)
    assert result.map.shape == mask.shape and result.map.dtype == np.float32
    assert roc_auc(result.map.ravel(), mask.ravel()) > minimum_auc


def test_ghost_scores_splice_above_the_untouched_image(pasted) -> None:
    image, _, untouched = pasted
    assert forensics.jpeg_ghost(image).score > forensics.jpeg_ghost(untouched).score


def test_noise_inconsistency_finds_denoised_region() -> None:
    rng = np.random.default_rng(0)
    clean = cv2.GaussianBlur(data.coffee()[:384, :512], (0, 0), 2.0).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 6, clean.shape), 0, 255).astype(np.uint8)
    mask = np.zeros(noisy.shape[:2], bool)
    mask[128:256, 192:352] = True
    noisy[mask] = clean.astype(np.uint8)[mask]  # a smoothed-over (retouched) area
    result = forensics.noise_inconsistency(noisy)
    assert result.map is not None
    assert roc_auc(result.map.ravel(), mask.ravel()) > 0.75


def test_every_signal_returns_bounded_score_map_and_one_line() -> None:
    image = data.astronaut()[:200, :300]
    for kind in forensics.ForensicDetector.FUNCTIONS:
        result = forensics.ForensicDetector(kind, "1", kind).analyze(image)
        assert 0.0 <= result.score <= 1.0
        assert result.map is not None and result.map.shape == image.shape[:2]
        assert result.map.min() >= 0.0 and result.map.max() <= 1.0
        assert "\n" not in result.explanation and result.explanation
