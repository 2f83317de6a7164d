"""Descriptor training: augmentation and batch determinism, the family split, the loss, and a
tiny end-to-end run that saves a loadable checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from factcheck.core.descriptor import Descriptor, default_config
from factcheck.evaluation.evalcases import TUNE_FRACTION, Prepared, split_sources
from factcheck.training import descriptor as training
from factcheck.training.augment import augmented_view
from factcheck.training.data import (
    Photo,
    batch_images,
    batch_views,
    coarse_family,
    is_tune_family,
    permitted_sources,
)
from factcheck.training.procedural import (
    EVAL_DESIGN_SEEDS,
    KINDS,
    TRAIN_DESIGN_SEEDS,
    procedural_image,
)

TINY = dict(input_size=32, widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1), stem_width=8, dim=16)


def photo(seed: int) -> Photo:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    return Photo(f"p{seed}", f"p{seed}", image)


def test_augmentation_is_deterministic_per_rng_state():
    image = procedural_image("abstract", TRAIN_DESIGN_SEEDS[0], 0, (96, 128))
    first = augmented_view(image, np.random.default_rng(5), 64)
    again = augmented_view(image, np.random.default_rng(5), 64)
    other = augmented_view(image, np.random.default_rng(6), 64)
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_batches_depend_only_on_seed_and_step():
    photos = [photo(i) for i in range(4)]
    views = batch_views(photos, 6, seed=3, step=9, size=32)
    assert views.shape == (12, 32, 32, 3)
    assert np.array_equal(views, batch_views(photos, 6, seed=3, step=9, size=32))
    assert not np.array_equal(views, batch_views(photos, 6, seed=3, step=10, size=32))


def test_batch_pictures_are_distinct():
    """A picture twice in one batch would be its own negative."""
    photos = [photo(i) for i in range(3)]
    for step in range(5):
        pictures = batch_images(photos, 8, seed=1, step=step)
        assert len(pictures) == 8
        flat = {picture.tobytes() for picture in pictures}
        assert len(flat) == 8


def test_procedural_siblings_are_different_pictures_and_seed_ranges_apart():
    for kind in KINDS:
        image = procedural_image(kind, 42, 0, (96, 128))
        assert np.array_equal(image, procedural_image(kind, 42, 0, (96, 128)))
        assert not np.array_equal(image, procedural_image(kind, 42, 1, (96, 128)))
    assert TRAIN_DESIGN_SEEDS[1] <= EVAL_DESIGN_SEEDS[0]


def test_training_families_are_never_in_the_evaluation_test_split():
    families = [f"sys-wall{i}" for i in range(60)] + [f"sys-wall{i}-d" for i in range(60)]
    prepared = [Prepared(name, name, np.zeros((1, 1, 3), np.uint8)) for name in families]
    originals, unrelated = split_sources(prepared, "test", seed=0)
    test_families = {p.family for p in originals + unrelated}
    assert test_families
    assert not any(is_tune_family(family) for family in test_families)
    # a dark/light version is tune only if its merged family is tune as well
    for family in families:
        if is_tune_family(family):
            assert coarse_family(family) not in test_families


def test_trained_system_photos_are_tune_in_both_tiers():
    """Base tier: the file's family is tune. Hard tier: its design group is tune and so is
    every member's family, whichever of them decides the group's split."""
    from factcheck.evaluation.evalsources import stable_fraction

    candidates = [c for c in permitted_sources() if c.source.name.startswith("sys-")]
    assert candidates
    groups: dict[str, list[str]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.group, []).append(candidate.source.family)
    for candidate in candidates:
        if candidate.tune:
            assert stable_fraction(candidate.source.family, 0) < TUNE_FRACTION
            assert stable_fraction(candidate.group, 0) < TUNE_FRACTION
            assert all(stable_fraction(f, 0) < TUNE_FRACTION for f in groups[candidate.group])
    assert any(not c.tune for c in candidates)


def test_loss_prefers_aligned_views():
    torch.manual_seed(0)
    pictures = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    aligned = torch.cat([pictures, pictures])
    shuffled = torch.cat([pictures, pictures[torch.randperm(8)]])
    aligned_nce, aligned_koleo = training.infonce_koleo(aligned)
    shuffled_nce, _ = training.infonce_koleo(shuffled)
    assert float(aligned_nce) < 0.1 < float(shuffled_nce)
    collapsed = torch.nn.functional.normalize(torch.ones(16, 16) + 1e-3 * torch.randn(16, 16))
    assert float(training.infonce_koleo(collapsed)[1]) > float(aligned_koleo)


@pytest.mark.slow
def test_tiny_training_run_saves_a_loadable_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "WARMUP_STEPS", 1)
    monkeypatch.setattr(training, "LOG_EVERY", 1)
    output = tmp_path / "tiny.pt"
    config = default_config(weights="tiny.pt", **TINY)
    meta = training.train(
        output=output,
        steps=12,
        minutes=2,
        batch_size=6,
        seed=1,
        threads=1,
        workers=0,
        config=config,
        photos=[photo(i) for i in range(3)],
        log=False,
    )
    assert meta["steps_done"] == 12
    history = np.asarray(meta["loss_history"])
    assert np.isfinite(history[:, 1:]).all()
    assert history[-4:, 1].mean() < history[:4, 1].mean()  # InfoNCE falls
    descriptor = Descriptor.load(output.with_suffix(".json"))
    vectors = descriptor.describe([photo(0).image, photo(1).image])
    assert vectors.shape == (2, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
