"""Learned global copy-detection descriptor: inference only (training is `factcheck.training`).

A small residual CNN (built here, trained in this repository: no downloaded weights), GeM
pooling and a linear projection to an L2-normalised vector, so copies of one picture have a high
inner product and different pictures a low one. The whole image is resized (not cropped) to a
fixed square, so a repost's crop, border or caption shifts the descriptor instead of removing
content from it. The config (architecture, input size, dimension, normalisation, version, the
checkpoint's SHA-256) is a JSON file next to the checkpoint; both are data.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional

CONFIG_SCHEMA = "descriptor-config/1"
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_CONFIG_PATH = MODELS_DIR / "descriptor-v1.json"
DEFAULT_BATCH_SIZE = 32
DEFAULT_MIN_SIMILARITY = 0.3
ARCHITECTURE = "resnet-gem"


class DescriptorError(RuntimeError):
    """The descriptor's config or checkpoint is missing, corrupt or does not fit the network."""


def _per_channel(values: list[float]) -> tuple[float, float, float]:
    """An RGB normalisation constant read from JSON: exactly three numbers."""
    red, green, blue = (float(v) for v in values)
    return red, green, blue


@dataclass(frozen=True)
class DescriptorConfig:
    name: str
    version: str
    weights: str  # checkpoint file name, relative to the config's folder
    input_size: int
    dim: int
    widths: tuple[int, ...]
    blocks: tuple[int, ...]
    stem_width: int
    gem_p: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sha256: str | None = None
    architecture: str = ARCHITECTURE
    # Candidate threshold (cosine similarity) for the matcher, chosen on the `tune` split.
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    # How much closer than its 4th most similar reference a candidate must be for a dense
    # alignment to confirm it (factcheck.core.matcher); None: dense alignment never confirms.
    dense_confirm_margin: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DescriptorConfig:
        if data.get("architecture", ARCHITECTURE) != ARCHITECTURE:
            raise ValueError(f"unknown architecture {data.get('architecture')!r}")
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            weights=str(data["weights"]),
            input_size=int(data["input_size"]),
            dim=int(data["dim"]),
            widths=tuple(int(w) for w in data["widths"]),
            blocks=tuple(int(b) for b in data["blocks"]),
            stem_width=int(data["stem_width"]),
            gem_p=float(data["gem_p"]),
            mean=_per_channel(data["mean"]),
            std=_per_channel(data["std"]),
            sha256=data.get("sha256"),
            min_similarity=float(data.get("min_similarity", DEFAULT_MIN_SIMILARITY)),
            dense_confirm_margin=(
                None
                if data.get("dense_confirm_margin") is None
                else float(data["dense_confirm_margin"])
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CONFIG_SCHEMA,
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "weights": self.weights,
            "sha256": self.sha256,
            "input_size": self.input_size,
            "dim": self.dim,
            "widths": list(self.widths),
            "blocks": list(self.blocks),
            "stem_width": self.stem_width,
            "gem_p": self.gem_p,
            "mean": list(self.mean),
            "std": list(self.std),
            "min_similarity": self.min_similarity,
            "dense_confirm_margin": self.dense_confirm_margin,
        }


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_config(**overrides: Any) -> DescriptorConfig:
    values: dict[str, Any] = dict(
        name="provenant-copy-descriptor",
        version="1.0.0",
        weights="descriptor-v1.pt",
        input_size=128,
        dim=256,
        widths=(32, 64, 128, 256),
        blocks=(1, 2, 2, 1),
        stem_width=24,
        gem_p=3.0,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
    values.update(overrides)
    return DescriptorConfig(**values)


class BasicBlock(nn.Module):
    def __init__(self, in_width: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_width, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_width != width:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_width, width, 1, stride, bias=False), nn.BatchNorm2d(width)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = functional.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return functional.relu(out + self.shortcut(x))


class GeM(nn.Module):
    """Generalised-mean pooling: between average (p=1) and max pooling, learned p."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p.clamp(min=1.0, max=8.0)
        return x.clamp(min=1e-6).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


class DescriptorNet(nn.Module):
    def __init__(self, config: DescriptorConfig) -> None:
        super().__init__()
        stem = config.stem_width
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 3, 2, 1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
            nn.Conv2d(stem, config.widths[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(config.widths[0]),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        in_width = config.widths[0]
        for width, count in zip(config.widths, config.blocks, strict=True):
            for index in range(count):
                stride = 2 if index == 0 else 1
                layers.append(BasicBlock(in_width, width, stride))
                in_width = width
        self.trunk = nn.Sequential(*layers)
        self.pool = GeM(config.gem_p)
        self.projection = nn.Linear(in_width, config.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(self.trunk(self.stem(x)))
        return functional.normalize(self.projection(pooled), dim=1)


def preprocess(images: Sequence[np.ndarray], config: DescriptorConfig) -> torch.Tensor:
    """uint8 RGB arrays -> normalised (N, 3, S, S) float tensor. Area interpolation when
    shrinking (what training uses), linear when a tiny image must grow."""
    size = config.input_size
    batch = np.empty((len(images), size, size, 3), np.float32)
    for index, image in enumerate(images):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("expected uint8 RGB arrays of shape (H, W, 3)")
        shrink = min(image.shape[:2]) >= size
        batch[index] = cv2.resize(
            image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
    batch /= 255.0
    batch -= np.asarray(config.mean, np.float32)
    batch /= np.asarray(config.std, np.float32)
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_config(path: str | Path) -> DescriptorConfig:
    path = Path(path)
    try:
        return DescriptorConfig.from_dict(json.loads(path.read_text()))
    except FileNotFoundError as error:
        raise DescriptorError(f"descriptor config not found: {path}") from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DescriptorError(f"descriptor config {path} is invalid: {error}") from error


class Descriptor:
    """Loaded network + config; thread-safe for inference (eval mode, no grad)."""

    def __init__(self, config: DescriptorConfig, network: DescriptorNet) -> None:
        self.config = config
        self.network = network.eval()

    @classmethod
    def load(cls, config_path: str | Path = DEFAULT_CONFIG_PATH) -> Descriptor:
        config_path = Path(config_path)
        config = load_config(config_path)
        weights_path = config_path.parent / config.weights
        if not weights_path.is_file():
            raise DescriptorError(f"descriptor checkpoint not found: {weights_path}")
        if config.sha256 and file_sha256(weights_path) != config.sha256:
            raise DescriptorError(
                f"descriptor checkpoint {weights_path} does not match the SHA-256 in {config_path}"
            )
        network = DescriptorNet(config)
        try:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            network.load_state_dict({key: value.float() for key, value in state.items()})
        except Exception as error:  # torch raises several unrelated types for a bad file
            raise DescriptorError(
                f"descriptor checkpoint {weights_path} cannot be loaded: {error}"
            ) from error
        return cls(config, network)

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def min_similarity(self) -> float:
        return self.config.min_similarity

    @property
    def dense_confirm_margin(self) -> float | None:
        return self.config.dense_confirm_margin

    @property
    def tag(self) -> str:
        """Names the embedding space: stored vectors of another tag are not comparable."""
        return f"{self.config.name}/{self.config.version}"

    def _run(self, batch: torch.Tensor, with_mirror: bool) -> np.ndarray:
        with torch.inference_mode():
            if not with_mirror:
                embedded: np.ndarray = self.network(batch).numpy()
                return embedded
            both = torch.cat([batch, torch.flip(batch, dims=(3,))])
            out = self.network(both).numpy()
            count = len(batch)
            return np.stack([out[:count], out[count:]], axis=1)

    def _describe(
        self, images: Sequence[np.ndarray], batch_size: int, with_mirror: bool
    ) -> np.ndarray:
        shape = (0, 2, self.dim) if with_mirror else (0, self.dim)
        parts = [np.zeros(shape, np.float32)]
        for start in range(0, len(images), batch_size):
            batch = preprocess(images[start : start + batch_size], self.config)
            parts.append(self._run(batch, with_mirror))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def describe(
        self, images: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> np.ndarray:
        """(N, dim) float32, each row L2-normalised."""
        return self._describe(images, batch_size, with_mirror=False)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The matcher's `Embedder` interface (factcheck.core.matcher)."""
        return self.describe(images)

    def describe_with_mirror(
        self, images: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> np.ndarray:
        """(N, 2, dim) float32: [:, 0] the image as given, [:, 1] its horizontal mirror.
        Queries search with both and keep the better score, so a flipped repost is found
        even where the network is not fully mirror-invariant."""
        return self._describe(images, max(1, batch_size // 2), with_mirror=True)


_cache: dict[str, Descriptor] = {}
_cache_lock = threading.Lock()


def get_descriptor(config_path: str | Path = DEFAULT_CONFIG_PATH) -> Descriptor:
    """Per-process cached descriptor (one load per config path)."""
    key = str(Path(config_path).resolve())
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Descriptor.load(config_path)
        return _cache[key]
