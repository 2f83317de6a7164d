import cv2
import numpy as np
import pytest

pytest.importorskip("open_clip")

from factcheck.core.clip import ClipConfig, ClipEmbedder, get_embedder
from factcheck.core.index import ClipIndex, FloatIndexConfig
from factcheck.core.matcher import MatchConfig, find_candidates

EMBED_DIM = 24  # tests/factcheck/conftest.py TINY_CLIP_CONFIG


@pytest.fixture(scope="module")
def tiny_config(tiny_clip_model) -> ClipConfig:
    return ClipConfig(model_name=tiny_clip_model, batch_size=2, allow_random_init=True)


def test_random_init_must_be_explicit(tiny_clip_model):
    with pytest.raises(ValueError, match="pretrained"):
        ClipEmbedder(ClipConfig(model_name=tiny_clip_model))


def test_embed_shape_normalised_and_cached(tiny_config, astronaut, scene):
    embedder = get_embedder(tiny_config)
    assert get_embedder(tiny_config) is embedder
    vectors = embedder.embed([astronaut, scene, astronaut])  # 2 batches of size 2
    assert vectors.shape == (3, EMBED_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2], atol=1e-5)
    assert embedder.embed([]).shape == (0, EMBED_DIM)


def test_embeddings_flow_through_the_clip_index_into_candidates(
    tiny_config, astronaut, coffee, scene, other_scene
):
    embedder = get_embedder(tiny_config)
    ids = [11, 12, 13]
    vectors = embedder.embed([astronaut, coffee, scene])
    index = ClipIndex.build(vectors, ids, FloatIndexConfig(dim=EMBED_DIM))
    restored = ClipIndex.deserialize(index.serialize(), index.kind, index.config)
    query = cv2.resize(coffee, (300, 200), interpolation=cv2.INTER_AREA)
    # Random weights map every picture to similar vectors, so only the nearest one is asked for.
    config = MatchConfig(embedding_top_k=1, embedding_min_similarity=0.0)
    candidates = find_candidates(
        query, pdq_index=None, embedding_index=restored, embedder=embedder, config=config
    )
    assert [c.reference_id for c in candidates] == [12]
    assert candidates[0].embedding_similarity > 0.99 and candidates[0].pdq_distance is None
    strict = MatchConfig(embedding_top_k=3, embedding_min_similarity=1.01)
    assert not find_candidates(
        other_scene, pdq_index=None, embedding_index=restored, embedder=embedder, config=strict
    )
