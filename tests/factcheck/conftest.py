"""Fixtures shared by factcheck tests (Django-free, so core tests can use them too)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

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


def _write_tiny_descriptor(folder: Path) -> Path:
    """A random tiny descriptor (config `tiny.json`, checkpoint `tiny.pt`) written the way
    training writes one; returns the config's path."""
    import torch

    from factcheck.core.descriptor import DescriptorNet, default_config, file_sha256

    config = default_config(
        name="tiny-test-descriptor",
        version="0.1.0",
        input_size=32,
        widths=(8, 8, 16, 16),
        blocks=(1, 1, 1, 1),
        stem_width=8,
        dim=16,
        weights="tiny.pt",
    )
    torch.manual_seed(0)
    network = DescriptorNet(config)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), folder / "tiny.pt")
    data = {**config.to_dict(), "sha256": file_sha256(folder / "tiny.pt")}
    (folder / "tiny.json").write_text(json.dumps(data))
    return folder / "tiny.json"


@pytest.fixture
def write_tiny_descriptor() -> Callable[[Path], Path]:
    """Writes a random tiny descriptor (16-dimensional) into a folder; returns its config."""
    return _write_tiny_descriptor


@pytest.fixture
def tiny_descriptor(tmp_path) -> Path:
    """The config of a random tiny descriptor in its own folder of tmp_path."""
    return _write_tiny_descriptor(tmp_path / "descriptor")


@pytest.fixture
def embedding_off(settings):
    """No global embedding (CLIP off, descriptor disabled, whatever checkpoint is shipped) and no
    descriptor cached across tests; a test switches one on through `settings`."""
    from factcheck.embedding import embedder_cache_clear

    settings.CLIP_MODEL_NAME = ""
    settings.FACTCHECK_DESCRIPTOR_CONFIG = ""
    embedder_cache_clear()
    yield settings
    embedder_cache_clear()


@pytest.fixture(scope="session", autouse=True)
def single_threaded_faiss():
    """FAISS's OpenMP threads spin-wait; on the 2-core CI box shared with other test processes
    that made small index builds 10-100x slower. One thread is plenty for test-sized indexes."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)
