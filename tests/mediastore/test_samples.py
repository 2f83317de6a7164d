"""The scikit-image samples: bundled, and each consumer's part unchanged by the single list."""

from __future__ import annotations

from skimage import data

from detection.training import sources
from factcheck.evaluation import evalsources
from mediastore.samples import SKIMAGE_SAMPLES, TEXT_SCANS

# What each list held before they shared one home (their splits and case sets depend on them).
DETECTION_TRAINING_SAMPLES = (
    *("astronaut", "brick", "camera", "cell", "chelsea", "coffee", "coins", "grass", "gravel"),
    *("hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket", "clock"),
    *("colorwheel", "text"),
)
FACTCHECK_EVALUATION_SAMPLES = (
    *("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins"),
    *("colorwheel", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "logo"),
    *("moon", "retina", "rocket"),
)


def test_every_sample_is_bundled_with_scikit_image() -> None:
    assert len(set(SKIMAGE_SAMPLES)) == len(SKIMAGE_SAMPLES)
    assert set(TEXT_SCANS) <= set(SKIMAGE_SAMPLES)
    for name in SKIMAGE_SAMPLES:
        assert getattr(data, name)().size > 0, name


def test_each_consumer_keeps_its_samples_in_order() -> None:
    assert sources.SKIMAGE_SAMPLES == DETECTION_TRAINING_SAMPLES
    assert evalsources.SKIMAGE_SAMPLES == FACTCHECK_EVALUATION_SAMPLES
