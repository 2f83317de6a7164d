import cv2
import numpy as np

from factcheck.core.evaluate import InMemoryReferences
from factcheck.core.fingerprints import pdq_hash
from factcheck.core.index import PdqIndex
from factcheck.core.local_index import LocalIndex
from factcheck.core.matcher import MatchConfig, match_image


def _setup(images: dict[int, np.ndarray]):
    references = InMemoryReferences(images=dict(images), config=MatchConfig())
    pdq = PdqIndex.build(np.stack([pdq_hash(im).bits for im in images.values()]), list(images))
    local = LocalIndex.build(
        {ref_id: references.load_reference_features(ref_id) for ref_id in images}
    )
    return references, pdq, local


def test_finds_edited_original_and_reports_contract(astronaut, coffee, scene):
    references, pdq, local = _setup({7: astronaut, 8: coffee, 9: scene})
    query = astronaut.copy()
    query[50:170, 300:460] = cv2.resize(coffee, (160, 120))
    result = match_image(query, references=references, pdq_index=pdq, local_index=local)
    assert result.matches and result.matches[0].reference_id == 7
    item = result.matches[0].to_dict()
    assert set(item) == {
        "reference_id",
        "similarity",
        "inliers",
        "transform",
        "edited",
        "edited_fraction",
        "regions",
    }
    assert item["edited"] and 0 < item["similarity"] < 1 and 0 < item["edited_fraction"] < 0.2
    assert np.allclose(item["transform"], np.eye(3), atol=0.05)
    assert result.matches[0].edit_mask.shape == query.shape[:2]


def test_crop_found_through_local_index_only(astronaut, coffee):
    references, pdq, local = _setup({1: astronaut, 2: coffee})
    crop = np.ascontiguousarray(astronaut[40:330, 120:500])
    config = MatchConfig(pdq_max_distance=20)  # PDQ alone cannot find this crop
    result = match_image(
        crop, references=references, pdq_index=pdq, local_index=local, config=config
    )
    assert [m.reference_id for m in result.matches] == [1]
    assert not result.matches[0].edited


def test_unrelated_query_has_no_match(astronaut, coffee, other_scene):
    references, pdq, local = _setup({1: astronaut, 2: coffee})
    result = match_image(other_scene, references=references, pdq_index=pdq, local_index=local)
    assert result.matches == []
