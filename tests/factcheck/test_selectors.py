"""factcheck.selectors on real PostgreSQL: references added through the service, then queried."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as samples

from factcheck.evaluation.evaledits import jpeg
from factcheck.evaluation.evalsources import generated_image
from factcheck.indexing import (
    EMBEDDING_INDEX,
    LOCAL_INDEX,
    PDQ_INDEX,
    index_rebuild,
    indexed_reference_ids,
)
from factcheck.selectors import image_matches, reference_ids_matching
from factcheck.services import reference_add, reference_remove
from factcheck.signals import references_indexed

# Index updates run on commit, so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def encode(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def references() -> dict[str, int]:
    originals = {
        "astronaut": samples.astronaut(),
        "coffee": samples.coffee(),
        "scene": generated_image(seed=5, size=(480, 640)),
    }
    return {
        name: reference_add(content=encode(image), source="AP", external_id=name).reference.pk
        for name, image in originals.items()
    }


def edited_astronaut() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A splice (a patch of a never-indexed picture), then resized and recompressed."""
    query = samples.astronaut().copy()
    query[300:420, 60:220] = cv2.resize(generated_image(seed=123, size=(240, 320)), (160, 120))
    query = cv2.resize(query, (400, 400), interpolation=cv2.INTER_AREA)
    return jpeg(query, 80), (60 * 400 // 512, 300 * 400 // 512, 160 * 400 // 512, 120 * 400 // 512)


def overlaps(bbox: list[int], truth: tuple[int, int, int, int]) -> bool:
    x, y, w, h = bbox
    tx, ty, tw, th = truth
    return x < tx + tw and tx < x + w and y < ty + th and ty < y + h


def test_edited_copy_matches_its_original_with_the_edited_region(references) -> None:
    query, spliced = edited_astronaut()
    result = image_matches(image=query)
    assert result.matches, result
    best = result.matches[0]
    assert best["reference"]["id"] == str(references["astronaut"])
    assert best["reference"]["external_id"] == "astronaut"
    assert best["reference"]["source"] == "AP" and best["reference"]["published_at"] is None
    assert best["edited"] and best["regions"]
    assert overlaps(best["regions"][0]["bbox"], spliced)
    assert len(result.edit_masks) == len(result.aligned_references) == len(result.matches)
    mask, aligned = result.edit_masks[0], result.aligned_references[0]
    assert mask.shape == query.shape[:2] and set(np.unique(mask)) <= {0, 255}
    assert aligned.shape == query.shape and aligned.dtype == np.uint8
    # The aligned original agrees with the query outside the edit.
    outside = mask == 0
    error = np.abs(aligned.astype(int) - query.astype(int))[outside].mean()
    assert error < 12
    assert result.candidates >= 1
    assert {"pdq", "sift", "faiss"} <= set(result.models)
    assert result.timings_ms["total"] > 0


def test_unrelated_image_has_no_match(references) -> None:
    result = image_matches(image=generated_image(seed=77, size=(480, 640)))
    assert result.matches == [] and result.edit_masks == [] and result.aligned_references == []


def test_crops_and_captioned_copies_are_found_and_not_edits(references) -> None:
    coffee = samples.coffee()
    crop = jpeg(coffee[40:330, 100:520], 85)
    band = np.full((70, coffee.shape[1], 3), 255, np.uint8)
    cv2.putText(band, "SHOCKING PHOTO", (10, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3)
    captioned = jpeg(np.vstack([band, coffee]), 85)
    captioned_crop = jpeg(np.vstack([band[:, :420], coffee[40:330, 100:520]]), 85)
    for query in (crop, captioned, captioned_crop):
        result = image_matches(image=query)
        assert [m["reference"]["external_id"] for m in result.matches] == ["coffee"]
        assert not result.matches[0]["edited"], result.matches[0]["regions"]
    # The original continues above the crop, so its aligned copy reaches into the band.
    assert result.aligned_references[0][:60].max() > 0


def test_reference_ids_matching_verifies_only_the_given_references(references) -> None:
    query, _ = edited_astronaut()
    only_others = reference_ids_matching(
        image=query, reference_ids=[references["coffee"], references["scene"]]
    )
    assert only_others.matches == [] and only_others.candidates == 2
    restricted = reference_ids_matching(
        image=query, reference_ids=[references["astronaut"], 999_999_999]
    )
    assert [m["reference"]["id"] for m in restricted.matches] == [str(references["astronaut"])]


def test_removed_reference_leaves_every_index_and_stops_matching(references) -> None:
    astronaut_id = references["astronaut"]
    assert astronaut_id in indexed_reference_ids(PDQ_INDEX)
    assert astronaut_id in indexed_reference_ids(LOCAL_INDEX)
    query, _ = edited_astronaut()
    assert image_matches(image=query).matches  # warms the per-process caches
    from factcheck.models import Reference

    reference_remove(reference=Reference.objects.get(pk=astronaut_id))
    assert indexed_reference_ids(PDQ_INDEX) == {references["coffee"], references["scene"]}
    assert indexed_reference_ids(LOCAL_INDEX) == {references["coffee"], references["scene"]}
    assert astronaut_id not in indexed_reference_ids(EMBEDDING_INDEX)
    assert image_matches(image=query).matches == []
    assert reference_ids_matching(image=query, reference_ids=[astronaut_id]).matches == []


def test_listeners_hear_about_newly_indexed_references() -> None:
    heard: list[list[int]] = []

    def listener(sender: object, *, reference_ids: list[int], **kwargs: object) -> None:
        heard.append(reference_ids)

    def broken(sender: object, **kwargs: object) -> None:
        raise RuntimeError("listener bug")

    references_indexed.connect(broken)
    references_indexed.connect(listener)
    references_indexed.connect(listener)  # connected once
    try:
        added = reference_add(content=encode(samples.chelsea()), source="AP").reference
        again = reference_add(content=encode(samples.chelsea()), source="AP")
    finally:
        references_indexed.disconnect(broken)
        references_indexed.disconnect(listener)
    assert not again.created
    assert heard == [[added.pk]]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        image_matches(image=np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="3 colour channels"):
        image_matches(image=np.zeros((10, 10, 4), np.uint8))


def test_clip_path_finds_candidates_when_the_other_indexes_cannot(settings, tiny_clip_model):
    settings.CLIP_MODEL_NAME = tiny_clip_model
    settings.CLIP_ALLOW_RANDOM_INIT = True
    settings.FACTCHECK_LOCAL_INDEX = {"min_votes": 10**6}  # local index finds nothing
    # PDQ finds nothing either; random weights make every picture similar, so only the top one.
    settings.FACTCHECK_MATCH = {
        "pdq_max_distance": -1,
        "embedding_top_k": 1,
        "embedding_min_similarity": 0,
    }
    coffee = reference_add(content=encode(samples.coffee()), source="AP").reference
    reference_add(content=encode(samples.astronaut()), source="AP")
    assert coffee.fingerprint.embedding_model == tiny_clip_model
    assert len(indexed_reference_ids(EMBEDDING_INDEX)) == 2
    query = jpeg(cv2.resize(samples.coffee(), (450, 300), interpolation=cv2.INTER_AREA), 80)
    result = image_matches(image=query)
    assert [m["reference"]["id"] for m in result.matches] == [str(coffee.pk)]
    assert result.candidates == 1
    assert result.models["clip"] == f"{tiny_clip_model}/random-init"
    settings.CLIP_MODEL_NAME = ""  # CLIP turned off: a rebuild empties its index, not keeps it
    index_rebuild()
    assert (
        indexed_reference_ids(EMBEDDING_INDEX) == set()
        and len(indexed_reference_ids(PDQ_INDEX)) == 2
    )
