"""The one global embedding (factcheck.embedding): which model, which space, and the services,
index and selectors that store and search it, on real PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image
from skimage import data as samples

from factcheck.core.clip import ClipEmbedder
from factcheck.core.descriptor import Descriptor
from factcheck.core.index_store import read_manifest
from factcheck.embedding import (
    SETTING,
    EmbeddingUnavailable,
    configured_embedder,
    embedding_models,
    embedding_tag,
)
from factcheck.evaluation.evalsources import generated_image
from factcheck.indexing import (
    EMBEDDING_INDEX,
    PDQ_INDEX,
    SPACE_PARAM,
    index_dir,
    index_rebuild,
    indexed_reference_ids,
)
from factcheck.models import Fingerprint, Reference
from factcheck.selectors import image_matches
from factcheck.services import reference_add, references_embed

TINY_TAG = "tiny-test-descriptor/0.1.0"
TINY_DIM = 16
# Index updates run on commit, so tests that add references commit for real.
commits = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _embedding_off(embedding_off):
    return embedding_off


@pytest.fixture
def descriptor_on(settings, tiny_descriptor: Path) -> str:
    settings.FACTCHECK_DESCRIPTOR_CONFIG = str(tiny_descriptor)
    return TINY_TAG


def clip_on(settings, model_name: str) -> None:
    settings.CLIP_MODEL_NAME = model_name
    settings.CLIP_ALLOW_RANDOM_INIT = True


def encode(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def add_generated(seed: int) -> Reference:
    image = generated_image(seed=seed, size=(180, 240))
    return reference_add(content=encode(image), source="AP", external_id=f"g{seed}").reference


def embedding_space() -> str | None:
    manifest = read_manifest(index_dir(), EMBEDDING_INDEX)
    return None if manifest is None else manifest.params[SPACE_PARAM]


# -- which embedding -------------------------------------------------------------------------


def test_clip_is_the_embedding_when_configured(settings, tiny_clip_model, tiny_descriptor):
    settings.FACTCHECK_DESCRIPTOR_CONFIG = str(tiny_descriptor)
    clip_on(settings, tiny_clip_model)
    assert isinstance(configured_embedder(), ClipEmbedder)
    assert embedding_tag() == tiny_clip_model
    assert embedding_models() == {"clip": f"{tiny_clip_model}/random-init"}


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_setting_means_no_embedding(settings, value):
    settings.FACTCHECK_DESCRIPTOR_CONFIG = value
    assert configured_embedder() is None
    assert embedding_tag() == ""
    assert embedding_models() == {}


def test_a_configured_path_loads_that_descriptor(descriptor_on):
    embedder = configured_embedder()
    assert isinstance(embedder, Descriptor)
    assert embedder.dim == TINY_DIM
    assert embedding_tag() == descriptor_on == TINY_TAG
    assert embedding_models() == {"descriptor": TINY_TAG}
    assert configured_embedder() is embedder  # loaded once


@pytest.mark.parametrize("problem", ["missing", "corrupt", "no_checkpoint"])
def test_a_configured_path_that_cannot_load_is_an_error(settings, tiny_descriptor, problem):
    if problem == "missing":
        broken = tiny_descriptor.with_name("nothing.json")
    elif problem == "corrupt":
        broken = tiny_descriptor
        broken.write_text("{not json")
    else:
        broken = tiny_descriptor
        (tiny_descriptor.parent / "tiny.pt").unlink()
    named = (tiny_descriptor.parent / "tiny.pt") if problem == "no_checkpoint" else broken
    settings.FACTCHECK_DESCRIPTOR_CONFIG = str(broken)
    for read in (configured_embedder, embedding_tag, embedding_models):
        with pytest.raises(EmbeddingUnavailable) as raised:
            read()
        assert str(named) in str(raised.value) and SETTING in str(raised.value)


def test_the_default_without_its_checkpoint_means_no_embedding(settings, monkeypatch, tmp_path):
    settings.FACTCHECK_DESCRIPTOR_CONFIG = None
    monkeypatch.setattr(
        "factcheck.core.descriptor.DEFAULT_CONFIG_PATH", tmp_path / "absent" / "default.json"
    )
    assert configured_embedder() is None and embedding_tag() == "" and embedding_models() == {}


def test_the_default_config_is_used_when_unset(
    settings, monkeypatch, tiny_descriptor, write_tiny_descriptor
):
    from factcheck.embedding import embedder_cache_clear

    settings.FACTCHECK_DESCRIPTOR_CONFIG = None
    monkeypatch.setattr("factcheck.core.descriptor.DEFAULT_CONFIG_PATH", tiny_descriptor)
    assert isinstance(configured_embedder(), Descriptor) and embedding_tag() == TINY_TAG
    embedder_cache_clear()
    (tiny_descriptor.parent / "tiny.pt").unlink()  # config shipped, checkpoint not (yet)
    assert configured_embedder() is None and embedding_tag() == ""
    embedder_cache_clear()
    tiny_descriptor.write_text("{not json")  # something is there and it is wrong: say so
    with pytest.raises(EmbeddingUnavailable, match=r"tiny\.json is invalid"):
        configured_embedder()


def test_a_failed_load_is_not_cached(settings, tmp_path, write_tiny_descriptor):
    folder = tmp_path / "later"
    folder.mkdir()
    (folder / "tiny.json").write_text("{not json")
    settings.FACTCHECK_DESCRIPTOR_CONFIG = str(folder / "tiny.json")
    with pytest.raises(EmbeddingUnavailable, match="invalid"):
        configured_embedder()
    write_tiny_descriptor(folder)  # the operator fixes the file: no restart needed
    assert isinstance(configured_embedder(), Descriptor)
    assert embedding_tag() == TINY_TAG


# -- storing and indexing ----------------------------------------------------------------------


@commits
def test_reference_add_stores_the_descriptor_embedding_and_indexes_it(descriptor_on):
    coffee = samples.coffee()
    reference = reference_add(content=encode(coffee), source="AP").reference
    fingerprint = Fingerprint.objects.get(reference=reference)
    vector = np.frombuffer(bytes(fingerprint.embedding), np.float32)
    assert vector.shape == (TINY_DIM,) and fingerprint.embedding_model == descriptor_on
    assert np.allclose(vector, configured_embedder().embed([coffee])[0], atol=1e-5)
    assert indexed_reference_ids(EMBEDDING_INDEX) == {reference.pk}
    assert embedding_space() == descriptor_on


@commits
def test_references_embed_fills_in_a_new_space_once(settings, tiny_descriptor):
    ids = {add_generated(seed).pk for seed in (1, 2, 3)}
    assert set(Fingerprint.objects.values_list("embedding_model", flat=True)) == {""}
    assert indexed_reference_ids(EMBEDDING_INDEX) == set()
    settings.FACTCHECK_DESCRIPTOR_CONFIG = str(tiny_descriptor)
    calls: list[tuple[int, int]] = []
    result = references_embed(
        batch_size=2, progress=lambda done, total: calls.append((done, total))
    )
    assert (result.embedded, result.tag, result.skipped) == (3, TINY_TAG, [])
    assert calls == [(2, 3), (3, 3)]
    assert indexed_reference_ids(EMBEDDING_INDEX) == ids and embedding_space() == TINY_TAG
    assert {s.name: s.count for s in result.index.summaries}[EMBEDDING_INDEX] == 3
    assert set(Fingerprint.objects.values_list("embedding_model", flat=True)) == {TINY_TAG}
    assert references_embed().embedded == 0  # idempotent
    assert references_embed(everything=True).embedded == 3


@commits
def test_switching_space_never_mixes_vectors(settings, descriptor_on, tiny_clip_model):
    ids = {add_generated(seed).pk for seed in (1, 2)}
    assert indexed_reference_ids(EMBEDDING_INDEX) == ids
    clip_on(settings, tiny_clip_model)
    index_rebuild()
    assert indexed_reference_ids(EMBEDDING_INDEX) == set()
    assert embedding_space() == tiny_clip_model
    assert indexed_reference_ids(PDQ_INDEX) == ids
    # An index update after the switch holds this space's rows only, too.
    added = add_generated(3).pk
    assert indexed_reference_ids(EMBEDDING_INDEX) == {added}
    result = references_embed()
    assert (result.embedded, result.tag) == (2, tiny_clip_model)
    assert indexed_reference_ids(EMBEDDING_INDEX) == ids | {added}
    assert set(Fingerprint.objects.values_list("embedding_model", flat=True)) == {tiny_clip_model}


def test_references_embed_refuses_a_batch_size_below_one(descriptor_on):
    with pytest.raises(ValueError, match="batch_size"):
        references_embed(batch_size=0)


def test_references_embed_refuses_without_an_embedding():
    with pytest.raises(EmbeddingUnavailable, match="CLIP_MODEL_NAME"):
        references_embed()


@commits
def test_an_unreadable_original_is_skipped_and_the_others_embedded(settings, tiny_descriptor):
    kept, lost = add_generated(1), add_generated(2)
    default_storage.delete(lost.media.file.name)
    settings.FACTCHECK_DESCRIPTOR_CONFIG = str(tiny_descriptor)
    result = references_embed()
    assert result.embedded == 1
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith(f"reference {lost.pk}: cannot read the original")
    assert Fingerprint.objects.get(reference=kept).embedding_model == TINY_TAG
    assert Fingerprint.objects.get(reference=lost).embedding is None
    assert indexed_reference_ids(EMBEDDING_INDEX) == {kept.pk}


# -- searching ---------------------------------------------------------------------------------


@commits
def test_image_matches_reports_the_descriptor(descriptor_on):
    astronaut = reference_add(content=encode(samples.astronaut()), source="AP").reference
    reference_add(content=encode(samples.coffee()), source="AP")
    query = np.ascontiguousarray(samples.astronaut()[40:470, 30:480][:, ::-1])
    result = image_matches(image=query)
    assert result.models["descriptor"] == descriptor_on and "clip" not in result.models
    assert [m["reference"]["id"] for m in result.matches] == [str(astronaut.pk)]
