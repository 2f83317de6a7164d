"""Index updates on real PostgreSQL: appended deltas, compaction, and the bounded local index."""

import io
import logging

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image
from skimage import data as samples

from factcheck import services
from factcheck.core import index_store
from factcheck.core.index_manifest import Manifest
from factcheck.core.index_store import read_manifest
from factcheck.core.layered import LayeredLocalIndex, LayeredPdqIndex
from factcheck.evaluation.evalsources import generated_image
from factcheck.indexing import (
    LOCAL_INDEX,
    PDQ_INDEX,
    index_dir,
    index_reader,
    indexed_reference_ids,
)
from factcheck.models import Reference
from factcheck.selectors import image_matches

pytestmark = pytest.mark.django_db(transaction=True)


def encoded(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()


def png(seed: int) -> bytes:
    return encoded(generated_image(seed=seed, size=(240, 320)))


def add(seed: int) -> Reference:
    return services.reference_add(content=png(seed), source="AP").reference


def published(name: str) -> Manifest:
    """The manifest of index `name`, which must have been published."""
    manifest = read_manifest(index_dir(), name)
    assert manifest is not None, name
    return manifest


def assert_indexes_match_the_database(*names: str) -> None:
    in_database = set(Reference.objects.values_list("pk", flat=True))
    for name in names:
        assert indexed_reference_ids(name) == in_database, name


@pytest.fixture
def deltas_kept(monkeypatch) -> None:
    """Small test collections would otherwise be rebuilt on every update (a delta of one
    reference is more than DELTA_MAX_FRACTION of a base of a few)."""
    monkeypatch.setattr(index_store, "DELTA_MAX_FRACTION", 100.0)


def test_an_update_appends_a_delta_that_readers_search_at_once(deltas_kept) -> None:
    first = add(1)
    bases = {name: published(name) for name in (PDQ_INDEX, LOCAL_INDEX)}
    assert all(base.deltas == () for base in bases.values())
    second = add(2)
    for name, base in bases.items():
        manifest = published(name)
        assert len(manifest.deltas) == 1 and manifest.file == base.file, name  # base untouched
    assert isinstance(index_reader(PDQ_INDEX).get(), LayeredPdqIndex)
    assert isinstance(index_reader(LOCAL_INDEX).get(), LayeredLocalIndex)
    found = image_matches(image=generated_image(seed=2, size=(240, 320)))
    assert [m["reference"]["id"] for m in found.matches][:1] == [str(second.pk)]
    services.reference_remove(reference=first)
    manifest = published(PDQ_INDEX)
    assert (manifest.count, manifest.hidden_rows, len(manifest.deltas)) == (1, 1, 1)
    assert_indexes_match_the_database(PDQ_INDEX, LOCAL_INDEX)
    assert not image_matches(image=generated_image(seed=1, size=(240, 320))).matches


def test_past_the_delta_limits_an_update_rebuilds_a_base(deltas_kept, monkeypatch) -> None:
    monkeypatch.setattr(index_store, "DELTA_MAX_FILES", 1)
    add(1)
    add(2)
    with_delta = published(PDQ_INDEX)
    assert len(with_delta.deltas) == 1
    add(3)  # a second delta file passes the limit: published, then compacted (the task it
    # enqueues runs in-process without a broker; tests/factcheck/test_index_compaction.py)
    compacted = published(PDQ_INDEX)
    assert compacted.deltas == () and compacted.file != with_delta.file
    assert compacted.version == with_delta.version + 2
    assert compacted.base_rows == compacted.count == 3
    assert_indexes_match_the_database(PDQ_INDEX, LOCAL_INDEX)


def test_local_index_is_switched_off_above_its_limit_and_restored_by_rebuild(
    settings, caplog
) -> None:
    settings.FACTCHECK_LOCAL_INDEX_MAX_REFERENCES = 2
    kept = [add(1), add(2)]  # at the limit: built
    assert indexed_reference_ids(LOCAL_INDEX) == {reference.pk for reference in kept}
    assert index_reader(LOCAL_INDEX).get() is not None
    with caplog.at_level(logging.WARNING, logger="factcheck.indexing"):
        extra = add(3)  # one past it: switched off, readers drop it
        add(4)
    manifest = published(LOCAL_INDEX)
    assert "FACTCHECK_LOCAL_INDEX_MAX_REFERENCES=2" in manifest.disabled
    assert [r.message for r in caplog.records].count(
        f"local-descriptor index switched off: {manifest.disabled}"
    ) == 1
    assert index_reader(LOCAL_INDEX).get() is None and indexed_reference_ids(LOCAL_INDEX) == set()
    assert_indexes_match_the_database(PDQ_INDEX)
    found = image_matches(image=generated_image(seed=3, size=(240, 320)))  # PDQ still finds it
    assert [m["reference"]["id"] for m in found.matches][:1] == [str(extra.pk)]
    for reference in Reference.objects.exclude(pk__in=[r.pk for r in kept]):
        services.reference_remove(reference=reference)
    assert published(LOCAL_INDEX).disabled  # an update does not restore it
    call_command("rebuild_index", stdout=io.StringIO())
    assert not published(LOCAL_INDEX).disabled
    assert_indexes_match_the_database(PDQ_INDEX, LOCAL_INDEX)
    assert index_reader(LOCAL_INDEX).get() is not None
    assert indexed_reference_ids(LOCAL_INDEX) == {reference.pk for reference in kept}


def test_with_the_local_index_off_sift_waits_for_the_first_verification(settings) -> None:
    """At scale (the local index off) a reference costs no SIFT at intake: its features are
    computed the first time it is a candidate, kept in storage, and a rebuild under the limit
    builds the local index from them (or computes any still missing)."""
    settings.FACTCHECK_LOCAL_INDEX_MAX_REFERENCES = 1
    add(1)
    add(2)  # past the limit: the local index is switched off
    assert published(LOCAL_INDEX).disabled
    photo = samples.astronaut()[::2, ::2]
    late = services.reference_add(content=encoded(photo), source="AP").reference
    features_name = late.fingerprint.features_file
    assert not default_storage.exists(features_name)
    found = image_matches(image=photo[20:, 30:])
    assert [m["reference"]["id"] for m in found.matches][:1] == [str(late.pk)]
    assert found.matches[0]["verified_by"] == "local_features"  # features made on demand
    assert default_storage.exists(features_name)
    unverified = services.reference_add(content=encoded(samples.coffee()), source="AP").reference
    assert not default_storage.exists(unverified.fingerprint.features_file)
    settings.FACTCHECK_LOCAL_INDEX_MAX_REFERENCES = 10
    call_command("rebuild_index", stdout=io.StringIO())
    assert_indexes_match_the_database(PDQ_INDEX, LOCAL_INDEX)
    assert default_storage.exists(unverified.fingerprint.features_file)
