import json

import numpy as np
import pytest

open_clip = pytest.importorskip("open_clip")

from factcheck.core.clip import ClipConfig, ClipEmbedder, get_embedder  # noqa: E402

TINY_MODEL = "provenant-tiny-test"
TINY_CONFIG = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 8, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> ClipConfig:
    path = tmp_path_factory.mktemp("clip") / f"{TINY_MODEL}.json"
    path.write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(path)
    return ClipConfig(model_name=TINY_MODEL, batch_size=2, allow_random_init=True)


def test_random_init_must_be_explicit():
    with pytest.raises(ValueError, match="pretrained"):
        ClipEmbedder(ClipConfig(model_name=TINY_MODEL))


def test_embed_shape_normalised_and_cached(tiny_config, astronaut, scene):
    embedder = get_embedder(tiny_config)
    assert get_embedder(tiny_config) is embedder
    vectors = embedder.embed([astronaut, scene, astronaut])  # 2 batches of size 2
    assert vectors.shape == (3, 24) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2], atol=1e-5)
    assert embedder.embed([]).shape == (0, 24)
