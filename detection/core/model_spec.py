"""The parts of `detector-config/1` that describe a model file run by a runtime (ONNX,
TorchScript): its input (size policy, normalisation, colour order, layout), its outputs (which
tensor is the image score, the map, the per-face score), the face-crop policy and the licence.

Parsed and checked when a config loads, so a wrong file stops the worker with a message naming it
instead of producing wrong scores later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

RUNTIMES = ("onnx", "torchscript")
LAYOUTS = ("NCHW", "NHWC")
COLOUR_ORDERS = ("RGB", "BGR")
OUTPUT_KINDS = ("logit", "probability")
SIZE_POLICIES = ("tile", "fixed")
FACE_POLICIES = ("none", "crops")
# Largest input side a config may ask for: a 4096 px square float32 batch is 200 MB, beyond what a
# worker should allocate for one detector.
MAX_INPUT_SIDE = 4096
# Licence ids that forbid commercial use when a config does not say `commercial_use` itself:
# Creative Commons NonCommercial variants and the usual research-only wording.
NON_COMMERCIAL_LICENCE = re.compile(
    r"(^|[^A-Za-z])(NC|non-?commercial|research[- ]only)([^A-Za-z]|$)", re.I
)


class SpecError(ValueError):
    """A model description in a detector config is missing a field or holds a wrong value."""


def _choice(data: dict[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = str(data.get(key, default))
    if value not in choices:
        raise SpecError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _side(data: dict[str, Any], key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INPUT_SIDE:
        raise SpecError(f"{key} must be an integer in 1..{MAX_INPUT_SIDE}, got {value!r}")
    return value


def _triple(data: dict[str, Any], key: str, default: float) -> tuple[float, float, float]:
    value = data.get(key, [default] * 3)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value] * 3
    if not isinstance(value, list) or len(value) != 3:
        raise SpecError(f"{key} must be a number or a list of 3 numbers, got {value!r}")
    try:
        first, second, third = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{key} must hold numbers, got {value!r}") from exc
    return first, second, third


@dataclass(frozen=True)
class InputSpec:
    """How an RGB uint8 image becomes the model's input tensor.

    value = (pixel / scale - mean) / std per channel, in `colour_order`, laid out as `layout`.
    Size policy `tile`: fully convolutional; the image is resized so its longer side is at most
    `max_side` and its shorter side at least `tile`, reflect-padded to a multiple of `multiple`
    and run once (the model pools `tile`-pixel windows itself). `fixed`: resized to
    `width` x `height`.
    """

    name: str = "input"
    layout: str = "NCHW"
    colour_order: str = "RGB"
    scale: float = 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    policy: str = "tile"
    tile: int = 256
    max_side: int = 512
    multiple: int = 1
    width: int = 0
    height: int = 0

    @classmethod
    def from_dict(cls, data: Any) -> InputSpec:
        if not isinstance(data, dict):
            raise SpecError("input must be an object")
        size = data.get("size", {})
        if not isinstance(size, dict):
            raise SpecError("input.size must be an object")
        policy = _choice(size, "policy", SIZE_POLICIES, "tile")
        std = _triple(data, "std", 1.0)
        scale = data.get("scale", 255.0)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
            raise SpecError(f"input.scale must be a positive number, got {scale!r}")
        if not all(s > 0 for s in std):
            raise SpecError(f"input.std must be positive, got {list(std)}")
        spec = cls(
            name=str(data.get("name", "input")),
            layout=_choice(data, "layout", LAYOUTS, "NCHW"),
            colour_order=_choice(data, "colour_order", COLOUR_ORDERS, "RGB"),
            scale=float(scale),
            mean=_triple(data, "mean", 0.0),
            std=std,
            policy=policy,
        )
        if policy == "tile":
            tile = _side(size, "tile")
            return replace(
                spec,
                tile=tile,
                max_side=_side(size, "max_side", max(tile, 512)),
                multiple=_side(size, "multiple", 1),
            )
        return replace(spec, width=_side(size, "width"), height=_side(size, "height"))

    def to_dict(self) -> dict[str, Any]:
        size: dict[str, Any] = {"policy": self.policy}
        if self.policy == "tile":
            size.update(tile=self.tile, max_side=self.max_side, multiple=self.multiple)
        else:
            size.update(width=self.width, height=self.height)
        return {
            "name": self.name,
            "layout": self.layout,
            "colour_order": self.colour_order,
            "scale": self.scale,
            "mean": list(self.mean),
            "std": list(self.std),
            "size": size,
        }


@dataclass(frozen=True)
class OutputRef:
    """One output tensor and what its values are (`logit` or `probability`)."""

    name: str
    kind: str = "logit"

    @classmethod
    def from_dict(cls, data: Any, key: str) -> OutputRef:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise SpecError(f"outputs.{key} must be an object with a tensor name")
        return cls(name=data["name"], kind=_choice(data, "kind", OUTPUT_KINDS, "logit"))

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind}


@dataclass(frozen=True)
class OutputSpec:
    """Which output tensors the platform reads.

    `names`: every output in the model's order (TorchScript returns a tuple, so the order is what
    names its items; for ONNX they must equal the graph's output names). `image_score`: image
    (or per-window) scores, the largest is the image's. `map`: N x 1 x H x W (or N x H x W)
    manipulation map. `face_score`: the tensor read when scoring face crops (default: the image
    score).
    """

    names: tuple[str, ...]
    image_score: OutputRef
    map: OutputRef | None = None
    face_score: OutputRef | None = None

    @classmethod
    def from_dict(cls, data: Any) -> OutputSpec:
        if not isinstance(data, dict):
            raise SpecError("outputs must be an object")
        names = data.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise SpecError("outputs.names must list the model's output tensor names")
        if len(set(names)) != len(names):
            raise SpecError(f"outputs.names repeats a name: {names}")
        if "image_score" not in data:
            raise SpecError("outputs.image_score is required")
        spec = cls(
            names=tuple(names),
            image_score=OutputRef.from_dict(data["image_score"], "image_score"),
            map=OutputRef.from_dict(data["map"], "map") if data.get("map") else None,
            face_score=(
                OutputRef.from_dict(data["face_score"], "face_score")
                if data.get("face_score")
                else None
            ),
        )
        unknown = [ref.name for ref in spec.refs() if ref.name not in spec.names]
        if unknown:
            raise SpecError(f"outputs refer to tensors not in outputs.names: {unknown}")
        return spec

    def refs(self) -> list[OutputRef]:
        return [ref for ref in (self.image_score, self.map, self.face_score) if ref is not None]

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "names": list(self.names),
            "image_score": self.image_score.to_dict(),
        }
        if self.map is not None:
            found["map"] = self.map.to_dict()
        if self.face_score is not None:
            found["face_score"] = self.face_score.to_dict()
        return found


@dataclass(frozen=True)
class FacePolicy:
    """`crops`: the detector also scores each face crop (the face box enlarged by `margin` on
    every side, resized to `crop_size`, default the model's input size); `none`: it does not
    look at faces."""

    policy: str = "none"
    margin: float = 0.3
    crop_size: int | None = None

    @classmethod
    def from_dict(cls, data: Any, *, platform_margin: float) -> FacePolicy:
        if not isinstance(data, dict):
            raise SpecError("faces must be an object")
        policy = _choice(data, "policy", FACE_POLICIES, "none")
        margin = data.get("margin", platform_margin)
        if isinstance(margin, bool) or not isinstance(margin, int | float):
            raise SpecError(f"faces.margin must be a number, got {margin!r}")
        # The face finder crops every face once with the platform's margin and hands the same
        # crop to the scorer, so a model trained on another margin would see other crops.
        if abs(float(margin) - platform_margin) > 1e-9:
            raise SpecError(
                f"faces.margin {margin} is not supported: face crops carry the platform's "
                f"margin {platform_margin} (detection.core.faces.FACE_CROP_MARGIN)"
            )
        crop_size = _side(data, "crop_size") if "crop_size" in data else None
        return cls(policy=policy, margin=float(margin), crop_size=crop_size)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"policy": self.policy, "margin": self.margin}
        if self.crop_size is not None:
            found["crop_size"] = self.crop_size
        return found


@dataclass(frozen=True)
class Licence:
    """Licence of a model's weights: an SPDX-like id and whether commercial use is allowed
    (None when the config states no licence)."""

    id: str | None = None
    commercial_use: bool | None = None

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> Licence:
        stated = data.get("licence", data.get("weights_licence"))
        licence_id = str(stated).strip() if stated else None
        flag = data.get("commercial_use")
        if flag is not None and not isinstance(flag, bool):
            raise SpecError(f"commercial_use must be true or false, got {flag!r}")
        if flag is None and licence_id is not None:
            flag = not NON_COMMERCIAL_LICENCE.search(licence_id)
        return cls(id=licence_id, commercial_use=flag)
