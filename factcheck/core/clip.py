"""open_clip image embedder with a per-process model cache.

Real deployments set `pretrained` (an open_clip tag such as "laion2b_s34b_b79k") or
`weights_path` (a local checkpoint file, loaded by open_clip with weights_only=True). With neither
the model is randomly initialised: only useful for tests, and refused unless the config says
`allow_random_init=True` so a missing setting can never silently produce meaningless embeddings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

DEFAULT_BATCH_SIZE = 16


@dataclass(frozen=True)
class ClipConfig:
    model_name: str = "ViT-B-32"
    pretrained: str | None = None
    weights_path: str | None = None
    device: str = "cpu"
    batch_size: int = DEFAULT_BATCH_SIZE
    allow_random_init: bool = False
    min_similarity: float = 0.75  # candidate threshold for the matcher (cosine similarity)


class ClipEmbedder:
    """Embeds RGB uint8 arrays into L2-normalised float32 vectors."""

    def __init__(self, config: ClipConfig) -> None:
        import open_clip
        import torch

        weights = config.pretrained or config.weights_path
        if weights is None and not config.allow_random_init:
            raise ValueError(
                "ClipConfig needs `pretrained` or `weights_path`; random weights are for tests "
                "only (set allow_random_init=True)"
            )
        model, _, preprocess = open_clip.create_model_and_transforms(
            config.model_name, pretrained=weights, device=config.device
        )
        model.eval()
        self.config = config
        self._model = model
        self._preprocess = preprocess
        self._torch = torch
        self.dim = int(model.visual.output_dim)
        self.min_similarity = config.min_similarity
        self.dense_confirm_margin: float | None = None  # not calibrated for CLIP

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """(n, dim) float32, each row L2-normalised (so inner product == cosine similarity)."""
        from PIL import Image

        torch = self._torch
        batches: list[np.ndarray] = []
        step = max(1, self.config.batch_size)
        with torch.inference_mode():
            for start in range(0, len(images), step):
                chunk = images[start : start + step]
                pixels = torch.stack([self._preprocess(Image.fromarray(im)) for im in chunk])
                features = self._model.encode_image(pixels.to(self.config.device)).float()
                features = torch.nn.functional.normalize(features, dim=-1)
                batches.append(features.cpu().numpy())
        if not batches:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(batches), dtype=np.float32)


_EMBEDDERS: dict[ClipConfig, ClipEmbedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(config: ClipConfig) -> ClipEmbedder:
    """Process-wide cached embedder: loading a CLIP model takes seconds and hundreds of MB."""
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(config)
        if embedder is None:
            embedder = ClipEmbedder(config)
            _EMBEDDERS[config] = embedder
        return embedder
