"""Compact multi-task network after Nguyen et al. (2019): one shared encoder feeds both an
image-level classification head and a segmentation decoder, trained together so the decoder's
localisation supervision shapes the features the classifier uses.

Depthwise-separable convolutions and a lossless pixel-unshuffle stem keep it CPU-friendly: the
first convolution runs at half resolution without discarding any pixel (JPEG and noise traces
live in single pixels, which a strided convolution would skip).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 256
ENCODER_STRIDE = 16  # input pixels per bottleneck cell; image sides must be multiples of it
# With NetworkConfig.map_score, the map logits are averaged over cells of this many pixels (one
# bottleneck cell) and the largest cell average in a window joins the classification logit.
MAP_SCORE_CELL = ENCODER_STRIDE
CHECKPOINT_FORMAT = "provenant-multitask/1"


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture hyper-parameters; stored in the checkpoint so loading needs no code changes."""

    widths: tuple[int, ...] = (24, 40, 80, 128)
    residual_channels: bool = True  # feed fixed SRM high-pass residuals next to RGB
    # Add a learned multiple of the pooled segmentation logits to the image logit (v3 on), so
    # the image score is tied to the dense, much better supervised map.
    map_score: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "widths": list(self.widths),
            "residual_channels": self.residual_channels,
            "map_score": self.map_score,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        widths = data.get("widths", cls.widths)
        return cls(
            widths=tuple(int(w) for w in widths),
            residual_channels=bool(data.get("residual_channels", True)),
            map_score=bool(data.get("map_score", False)),
        )


def _srm_kernels() -> torch.Tensor:
    """Three classic SRM high-pass kernels (Fridrich & Kodovsky) used by many splice detectors."""
    first = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    second = [
        [0, 0, 0, 0, 0],
        [0, -1, 2, -1, 0],
        [0, 2, -4, 2, 0],
        [0, -1, 2, -1, 0],
        [0, 0, 0, 0, 0],
    ]
    kv = [
        [-1, 2, -2, 2, -1],
        [2, -6, 8, -6, 2],
        [-2, 8, -12, 8, -2],
        [2, -6, 8, -6, 2],
        [-1, 2, -2, 2, -1],
    ]
    kernels = torch.tensor([first, second, kv], dtype=torch.float32)
    kernels = kernels / torch.tensor([2.0, 4.0, 12.0]).view(3, 1, 1)
    return kernels.unsqueeze(1)  # 3 x 1 x 5 x 5, applied to luminance


class SeparableConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_ch, in_ch, 3, stride, padding=dilation, dilation=dilation, groups=in_ch, bias=False
        )
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.norm = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.pointwise(self.depthwise(x))), inplace=True)


class MultiTaskNet(nn.Module):
    """Input: float RGB in [0, 1], N x 3 x H x W (H, W multiples of 16).

    Returns (image_logit N, map_logits N x 1 x H x W).
    """

    srm: torch.Tensor  # registered buffer

    def __init__(self, config: NetworkConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetworkConfig()
        w1, w2, w3, w4 = self.config.widths
        in_ch = 6 if self.config.residual_channels else 3
        self.register_buffer("srm", _srm_kernels(), persistent=False)
        self.stem = nn.Sequential(SeparableConv(in_ch * 4, w1), SeparableConv(w1, w1))
        self.down2 = nn.Sequential(SeparableConv(w1, w2, stride=2), SeparableConv(w2, w2))
        self.down3 = nn.Sequential(SeparableConv(w2, w3, stride=2), SeparableConv(w3, w3))
        self.down4 = nn.Sequential(
            SeparableConv(w3, w4, stride=2),
            SeparableConv(w4, w4),
            SeparableConv(w4, w4, dilation=2),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(2 * w4, 1))
        self.up3 = SeparableConv(w4 + w3, w3)
        self.up2 = SeparableConv(w3 + w2, w2)
        self.up1 = SeparableConv(w2 + w1, w1)
        self.head = nn.Conv2d(w1, 4, 1)  # 4 = 2x2 sub-pixels, restored by pixel_shuffle
        if self.config.map_score:
            self.map_gain = nn.Parameter(torch.tensor(0.5))

    def _inputs(self, rgb: torch.Tensor) -> torch.Tensor:
        centred = (rgb - 0.5) / 0.25
        if not self.config.residual_channels:
            return centred
        luma = (0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]) * 255.0
        residual = F.conv2d(luma, self.srm, padding=2)
        # Clip like SRM truncation: large residuals are edges, not noise.
        return torch.cat([centred, torch.clamp(residual, -3.0, 3.0)], dim=1)

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bottleneck, skips = self._encode(rgb)
        pooled = torch.cat([bottleneck.mean(dim=(2, 3)), bottleneck.amax(dim=(2, 3))], dim=1)
        logit = self.classifier(pooled).squeeze(1)
        map_logits = self._decode(bottleneck, skips)
        if self.config.map_score:
            cells = F.avg_pool2d(map_logits, MAP_SCORE_CELL)
            logit = logit + self.map_gain * cells.amax(dim=(1, 2, 3))
        return logit, map_logits

    def dense(self, rgb: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass over a whole image (no tile seams in the map). Classification logits are
        computed per sliding window of `window` pixels (the training crop size, stride half a
        window) by pooling the shared bottleneck, as the head saw it in training.

        Returns (window logits N x rows x cols, map_logits N x 1 x H x W).
        """
        bottleneck, skips = self._encode(rgb)
        cells = max(1, min(window // ENCODER_STRIDE, *bottleneck.shape[2:]))
        stride = max(1, cells // 2)
        mean = F.avg_pool2d(bottleneck, cells, stride)
        peak = F.max_pool2d(bottleneck, cells, stride)
        pooled = torch.cat([mean, peak], dim=1).permute(0, 2, 3, 1)
        window_logits = self.classifier(pooled).squeeze(-1)
        map_logits = self._decode(bottleneck, skips)
        if self.config.map_score:
            map_cells = F.avg_pool2d(map_logits, MAP_SCORE_CELL)
            peaks = F.max_pool2d(map_cells, cells, stride)[:, 0]
            window_logits = window_logits + self.map_gain * peaks
        return window_logits, map_logits

    def _encode(self, rgb: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        s1 = self.stem(F.pixel_unshuffle(self._inputs(rgb), 2))
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        return self.down4(s3), [s1, s2, s3]

    def _decode(self, bottleneck: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        s1, s2, s3 = skips
        d3 = self.up3(torch.cat([_upsample_to(bottleneck, s3), s3], dim=1))
        d2 = self.up2(torch.cat([_upsample_to(d3, s2), s2], dim=1))
        d1 = self.up1(torch.cat([_upsample_to(d2, s1), s1], dim=1))
        return F.pixel_shuffle(self.head(d1), 2)


def _upsample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or not a Provenant multi-task checkpoint."""


def save_checkpoint(
    model: MultiTaskNet, path: Path, extra: dict[str, object] | None = None
) -> None:
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "extra": extra or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)


def load_checkpoint(path: Path | str) -> MultiTaskNet:
    """Load a checkpoint safely (weights_only) into an eval-mode model; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/garbage files
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.__class__.__name__}") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    model = MultiTaskNet(NetworkConfig.from_dict(payload["config"]))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match the architecture") from exc
    return model.eval()
