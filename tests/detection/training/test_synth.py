import numpy as np
import pytest
from skimage import data

from detection.training import synth


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    return data.astronaut()[:256, :256].copy(), data.coffee()[:256, :256].copy()


@pytest.mark.parametrize("kind", synth.KINDS)
def test_mask_marks_the_changed_pixels(kind: str, images) -> None:
    image, donor = images
    sample = synth.manipulate(image, donor, np.random.default_rng(3), kind=kind)
    assert sample.kind == kind and sample.mask.shape == image.shape[:2]
    assert sample.mask.dtype == np.uint8 and set(np.unique(sample.mask)) <= {0, 1}
    assert sample.mask.mean() > 0.005
    change = np.abs(sample.image.astype(int) - image.astype(int)).max(axis=2)
    inside, outside = change[sample.mask == 1], change[sample.mask == 0]
    assert inside.mean() > 3 * max(outside.mean(), 0.1)
    if kind in ("splice_hard", "inpaint"):
        assert outside.max() == 0  # hard edits leave everything else untouched


def test_degrade_keeps_mask_aligned_and_real_samples_empty(images) -> None:
    image, donor = images
    rng = np.random.default_rng(0)
    fake = synth.degrade(synth.manipulate(image, donor, rng, kind="splice_hard"), rng, 128)
    assert fake.image.shape == (128, 128, 3) and fake.mask.shape == (128, 128)
    assert fake.mask.any()
    pair = synth.make_training_pair(
        image, donor, np.random.default_rng(1), 96, fake_probability=0.0
    )
    assert pair.kind == "real" and not pair.mask.any() and pair.image.shape == (96, 96, 3)


def test_generation_is_deterministic_for_a_seed(images) -> None:
    image, donor = images
    first = synth.make_training_pair(image, donor, np.random.default_rng(7), 64)
    second = synth.make_training_pair(image, donor, np.random.default_rng(7), 64)
    assert (first.image == second.image).all() and (first.mask == second.mask).all()


def test_shared_training_views_use_the_evaluation_image_sizes() -> None:
    from detection.evaluation import evaluate
    from detection.training import train

    # the names train.py uses (imported from synth, not re-exported)
    assert (train.SHARED_MIN_SIDE, train.SHARED_MAX_SIDE) == (  # type: ignore[attr-defined]
        evaluate.EVAL_MIN_SIDE,
        evaluate.EVAL_MAX_SIDE,
    )
