"""Detector protocol, result type and JSON-loadable detector configuration."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from detection.core.faces import FACE_CROP_MARGIN
from detection.core.model_spec import (
    RUNTIMES,
    FacePolicy,
    InputSpec,
    Licence,
    OutputSpec,
    SpecError,
)

CONFIG_SCHEMA = "detector-config/1"
# Keys of detector-config/1 read into DetectorConfig's own fields; any other key lands in params.
CONFIG_KEYS = frozenset(
    {
        "name",
        "version",
        "kind",
        "weights",
        "weights_licence",
        "thresholds",
        "enabled",
        "params",
        "runtime",
        "input",
        "outputs",
        "faces",
        "licence",
        "commercial_use",
        "source",
        "shadow",
    }
)


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
    """Everything needed to build a detector, stored as data (JSON) next to its weights.

    `kind` names a built-in detector ("multitask", "ela", "noise", "jpeg_ghost"); a config with
    a `runtime` ("onnx", "torchscript") instead describes a model file by its `input`, `outputs`
    and `faces` (detection.core.model_spec). `shadow` detectors run and are reported but never
    change the verdict, the fused probability or the map.
    """

    name: str
    version: str
    kind: str  # registry key: "multitask", "ela", "noise", "jpeg_ghost", or the runtime
    weights: str | None = None  # path relative to the config file, or None (training-free)
    weights_licence: str | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    source_path: str | None = None  # where the config was loaded from (for error messages)
    runtime: str | None = None
    input: InputSpec | None = None
    outputs: OutputSpec | None = None
    faces: FacePolicy | None = None  # None: the built-in default (the multitask net scores crops)
    licence: Licence = field(default_factory=Licence)
    source: str | None = None  # where the model came from (training command, upstream project)
    shadow: bool = False
    config_sha256: str | None = None  # of the config file's bytes, or of its canonical JSON

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], source_path: str | None = None, sha256: str | None = None
    ) -> DetectorConfig:
        where = f" in {source_path}" if source_path else ""
        if not isinstance(data, dict):
            raise ValueError(f"detector config{where} is not a JSON object")
        missing = [key for key in ("name", "version") if key not in data]
        if "kind" not in data and "runtime" not in data:
            missing.append("kind")
        if missing:
            raise ValueError(f"detector config{where} lacks {', '.join(missing)}")
        try:
            model = _model_fields(data)
            thresholds = {k: float(v) for k, v in data.get("thresholds", {}).items()}
        except (SpecError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"detector config{where}: {exc}") from exc
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            kind=str(data.get("kind", data.get("runtime"))),
            weights=data.get("weights"),
            weights_licence=data.get("weights_licence"),
            thresholds=thresholds,
            enabled=bool(data.get("enabled", True)),
            params={
                **data.get("params", {}),
                **{k: v for k, v in data.items() if k not in CONFIG_KEYS},
            },
            source_path=source_path,
            source=str(data["source"]) if data.get("source") else None,
            shadow=bool(data.get("shadow", False)),
            config_sha256=sha256 or hashlib.sha256(canonical).hexdigest(),
            **model,
        )

    @classmethod
    def from_json(cls, path: Path | str) -> DetectorConfig:
        path = Path(path)
        try:
            content = path.read_bytes()
            data = json.loads(content)
        except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError
            raise ValueError(f"cannot read detector config {path}: {exc}") from exc
        return cls.from_dict(
            data, source_path=str(path), sha256=hashlib.sha256(content).hexdigest()
        )

    def weights_path(self) -> Path | None:
        if self.weights is None:
            return None
        weights = Path(self.weights)
        if not weights.is_absolute() and self.source_path:
            weights = Path(self.source_path).parent / weights
        return weights

    def stamp(self) -> dict[str, Any]:
        """What a report records of this detector: enough to tell which model judged it."""
        return {
            "name": self.name,
            "version": self.version,
            "runtime": self.runtime or "builtin",
            "licence": self.licence.id,
            "commercial_use": self.licence.commercial_use,
            "source": self.source,
            "config_sha256": self.config_sha256,
            "shadow": self.shadow,
        }


def _model_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The runtime, input, outputs, faces and licence fields of a config, checked."""
    runtime = data.get("runtime")
    if runtime is not None and runtime not in RUNTIMES:
        raise SpecError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    fields: dict[str, Any] = {"runtime": runtime, "licence": Licence.from_config(data)}
    if runtime is not None:
        absent = [key for key in ("weights", "input", "outputs") if not data.get(key)]
        if absent:
            raise SpecError(f"a {runtime} detector needs {', '.join(absent)}")
        fields["input"] = InputSpec.from_dict(data["input"])
        fields["outputs"] = OutputSpec.from_dict(data["outputs"])
    if "faces" in data:
        fields["faces"] = FacePolicy.from_dict(data["faces"], platform_margin=FACE_CROP_MARGIN)
    return fields
