"""Detector protocol, result type and JSON-loadable detector configuration."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

CONFIG_SCHEMA = "detector-config/1"


@dataclass
class DetectorResult:
    """One detector's opinion on one image.

    score: probability-like value in [0, 1] (higher = more likely manipulated).
    map: float32 HxW in [0, 1] on the analysed image's pixel grid, or None.
    features: raw, unbounded values the fusion model may use (e.g. logits); JSON-safe floats.
    """

    score: float
    map: np.ndarray | None
    explanation: str
    features: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0 or not np.isfinite(self.score):
            raise ValueError(f"score must be in [0, 1], got {self.score}")
        if self.map is not None:
            self.map = np.clip(np.asarray(self.map, dtype=np.float32), 0.0, 1.0)


@runtime_checkable
class Detector(Protocol):
    name: str
    version: str

    def analyze(self, image: np.ndarray) -> DetectorResult:
        """image: HxWx3 uint8 RGB, already checked as applicable."""
        ...


@dataclass(frozen=True)
class DetectorConfig:
    """Everything needed to build a detector, stored as data (JSON) next to its weights."""

    name: str
    version: str
    kind: str  # registry key: "multitask", "ela", "noise", "jpeg_ghost"
    weights: str | None = None  # path relative to the config file, or None (training-free)
    weights_licence: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    source_path: str | None = None  # where the config was loaded from (for error messages)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source_path: str | None = None) -> DetectorConfig:
        missing = [key for key in ("name", "version", "kind") if key not in data]
        if missing:
            where = f" in {source_path}" if source_path else ""
            raise ValueError(f"detector config{where} lacks {', '.join(missing)}")
        known = {
            "name",
            "version",
            "kind",
            "weights",
            "weights_licence",
            "thresholds",
            "enabled",
            "params",
        }
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            kind=str(data["kind"]),
            weights=data.get("weights"),
            weights_licence=data.get("weights_licence"),
            thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()},
            enabled=bool(data.get("enabled", True)),
            params={**data.get("params", {}), **{k: v for k, v in data.items() if k not in known}},
            source_path=source_path,
        )

    @classmethod
    def from_json(cls, path: Path | str) -> DetectorConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read detector config {path}: {exc}") from exc
        return cls.from_dict(data, source_path=str(path))

    def weights_path(self) -> Path | None:
        if self.weights is None:
            return None
        weights = Path(self.weights)
        if not weights.is_absolute() and self.source_path:
            weights = Path(self.source_path).parent / weights
        return weights
