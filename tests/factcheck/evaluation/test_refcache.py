from dataclasses import dataclass, replace

import numpy as np
import pytest

import factcheck.evaluation.evaluate as evaluate_module
from factcheck.core.features import FeatureConfig
from factcheck.evaluation.evalsources import generated_image
from factcheck.evaluation.evaluate import evaluate
from factcheck.evaluation.refcache import (
    CacheDirError,
    ReferenceCache,
    compute_entry,
    picture_key,
)

from .test_evaluation import _generate


@dataclass(frozen=True)
class _EmbedderConfig:
    name: str
    version: str


@dataclass
class _Embedder:
    config: _EmbedderConfig
    tag: str = "fake/1"


def _without_timings(figures):
    if not isinstance(figures, dict):
        return figures
    return {
        key: _without_timings(value)
        for key, value in figures.items()
        if "latency" not in key and not key.endswith("_ms")
    }


def test_entry_round_trips_and_other_settings_never_read_it(tmp_path):
    image = generated_image(5, (240, 320))
    config = FeatureConfig()
    entry = compute_entry(image, config)
    entry.embedding = np.arange(8, dtype=np.float32)
    embedder = _Embedder(_EmbedderConfig("d", "1"))
    cache = ReferenceCache(tmp_path, config, embedder)
    key = picture_key(image)
    assert cache.get(key) is None
    cache.put(key, entry)

    stored = cache.get(key)
    assert stored is not None
    np.testing.assert_array_equal(stored.features.points, entry.features.points)
    np.testing.assert_array_equal(stored.features.descriptors, entry.features.descriptors)
    assert stored.features.image_size == entry.features.image_size
    np.testing.assert_array_equal(stored.pdq_bits, entry.pdq_bits)
    np.testing.assert_array_equal(stored.embedding, entry.embedding)

    # Other feature settings, another checkpoint of the embedder, or other pixels: a miss.
    other_config = replace(config, max_keypoints=config.max_keypoints + 1)
    assert ReferenceCache(tmp_path, other_config, embedder).get(key) is None
    retrained = _Embedder(_EmbedderConfig("d", "2"))
    assert ReferenceCache(tmp_path, config, retrained).get(key) is None
    changed = image.copy()
    changed[0, 0, 0] ^= 1
    assert picture_key(changed) != key
    # A run without the embedder keeps its own entries.
    assert ReferenceCache(tmp_path, config).get(key) is None


def test_a_rerun_reads_every_reference_from_the_cache_and_scores_the_same(tmp_path, monkeypatch):
    _generate(tmp_path, "test")
    first = evaluate(tmp_path / "test", distractors=3, cache_dir=tmp_path / "cache")

    def computed(*args, **kwargs):
        raise AssertionError("a cached reference was computed again")

    monkeypatch.setattr(evaluate_module, "compute_entry", computed)
    second = evaluate(tmp_path / "test", distractors=3, cache_dir=tmp_path / "cache")
    assert _without_timings(first) == _without_timings(second)
    with pytest.raises(AssertionError, match="computed again"):
        evaluate(tmp_path / "test", distractors=4, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a numpy archive", b"PK\x03\x04 a truncated zip"],
    ids=["empty", "garbage", "truncated"],
)
def test_a_damaged_entry_is_a_miss_and_is_written_again(tmp_path, damage):
    image = generated_image(6, (200, 260))
    config = FeatureConfig()
    cache = ReferenceCache(tmp_path, config)
    key = picture_key(image)
    cache.put(key, compute_entry(image, config))
    path = next(cache.folder.glob(f"{key}.npz"))
    path.write_bytes(damage)
    assert cache.get(key) is None
    cache.put(key, compute_entry(image, config))
    assert cache.get(key) is not None


def test_an_entry_that_cannot_be_written_is_one_clear_error(tmp_path):
    """A folder squatting on the entry's name: the rename into place fails, whoever runs it."""
    image = generated_image(7, (200, 260))
    config = FeatureConfig()
    cache = ReferenceCache(tmp_path, config)
    key = picture_key(image)
    (cache.folder / f"{key}.npz").mkdir()
    with pytest.raises(CacheDirError, match="cannot write reference features"):
        cache.put(key, compute_entry(image, config))
    assert not list(cache.folder.glob("*.tmp")) and not list(cache.folder.glob(".*.tmp"))
