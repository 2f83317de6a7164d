"""The per-process reference caches: bounded by bytes, least recently used out first."""

import numpy as np
import pytest
from django.core.files.storage import default_storage
from skimage import data as samples

from factcheck.reference_source import BytesLRU, ReferenceMissing, StoredReferences
from factcheck.services import reference_add


def test_lru_evicts_least_recently_used_by_bytes() -> None:
    cache = BytesLRU(max_bytes=100)
    cache.put("a", "A", 40)
    cache.put("b", "B", 40)
    assert cache.get("a") == "A"  # a is now the most recently used
    cache.put("c", "C", 40)  # 120 bytes > 100: b goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    assert cache.size_bytes == 80 and len(cache) == 2
    cache.put("a", "A2", 100)  # replacing counts the new size only, then evicts c
    assert (cache.get("a"), cache.get("c"), cache.size_bytes) == ("A2", None, 100)
    cache.put("huge", "H", 101)  # larger than the whole cache: not cached at all
    assert cache.get("huge") is None and cache.get("a") == "A2"


def test_get_or_load_loads_once() -> None:
    cache = BytesLRU(max_bytes=10)
    loads = []

    def load() -> str:
        loads.append(1)
        return "value"

    assert cache.get_or_load("k", load, len) == cache.get_or_load("k", load, len) == "value"
    assert len(loads) == 1


@pytest.mark.django_db
def test_stored_references_load_cache_and_survive_a_lost_features_file() -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(samples.coffee()).save(buffer, format="PNG")
    reference = reference_add(content=buffer.getvalue(), source="AP").reference
    source = StoredReferences(features_cache_bytes=50_000_000, image_cache_bytes=50_000_000)
    features = source.load_reference_features(reference.pk)
    assert len(features) > 100 and features.image_size == (400, 600)
    assert source.load_reference_features(reference.pk) is features  # cached
    assert np.array_equal(source.load_reference_image(reference.pk), samples.coffee())
    default_storage.delete(reference.fingerprint.features_file)
    fresh = StoredReferences(features_cache_bytes=50_000_000, image_cache_bytes=50_000_000)
    assert len(fresh.load_reference_features(reference.pk)) == len(features)
    with pytest.raises(ReferenceMissing):
        source.load_reference_features(999_999_999)
    with pytest.raises(ReferenceMissing):
        source.load_reference_image(999_999_999)
