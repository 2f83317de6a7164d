"""Fixtures shared by factcheck tests (Django-free, so core tests can use them too)."""

from __future__ import annotations

import json

import pytest

TINY_CLIP_MODEL = "provenant-tiny-test"
# A ~0.1M-parameter open_clip config: the real code path (preprocess, encode_image, normalise)
# runs in milliseconds, without any weights to download.
TINY_CLIP_CONFIG = {
    "embed_dim": 24,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 8, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="session")
def tiny_clip_model(tmp_path_factory) -> str:
    """Registers the tiny config with open_clip and returns its model name."""
    open_clip = pytest.importorskip("open_clip")
    path = tmp_path_factory.mktemp("clip") / f"{TINY_CLIP_MODEL}.json"
    path.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(path)
    return TINY_CLIP_MODEL


@pytest.fixture(scope="session", autouse=True)
def single_threaded_faiss():
    """FAISS's OpenMP threads spin-wait; on the 2-core CI box shared with other test processes
    that made small index builds 10-100x slower. One thread is plenty for test-sized indexes."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)
