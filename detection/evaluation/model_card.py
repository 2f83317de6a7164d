"""The model card (templates/model-card.md) filled with one calibration's or evaluation's figures:
`calibrate_detectors` and `evaluate_detector --data` write it next to their other outputs."""

from __future__ import annotations

import datetime
from pathlib import Path
from string import Template
from typing import Any

from detection.core.interface import DetectorConfig

TEMPLATE = Path(__file__).resolve().parent / "templates" / "model-card.md"


def _figure(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _detector_rows(configs: list[DetectorConfig]) -> str:
    return "\n".join(
        f"| {c.name} | {c.version} | {c.weights_licence or 'training-free (no weights)'} | "
        f"{c.source_path or 'built in'} |"
        for c in configs
    )


def _detector_metric_rows(detectors: dict[str, dict[str, Any]]) -> str:
    return "\n".join(
        f"| {name} | {_figure(found['auc'])} | {_figure(found['ece'])} | "
        f"{_figure(found['ece_sampling_floor'])} | {_figure(found.get('pixel_f1'))} | "
        f"{'yes' if found.get('shadow') else 'no'} |"
        for name, found in detectors.items()
    )


def fill_model_card(
    *,
    title: str,
    command: str,
    configs: list[DetectorConfig],
    data_description: str,
    split_description: str,
    calibration_description: str,
    metrics_scope: str,
    report: dict[str, Any],
    reliability_png: str,
) -> str:
    """report: what evaluate_outputs returns, or a calibration's held-out metrics in that shape
    (`fused`, `segmentation`, `detectors`, `images`, `manipulated`, `skipped`)."""
    fused, segmentation = report["fused"], report.get("segmentation") or {}
    return Template(TEMPLATE.read_text()).substitute(
        title=title,
        command=command,
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        detector_rows=_detector_rows(configs),
        data_description=data_description,
        images=report["images"],
        manipulated=report["manipulated"],
        skipped=len(report.get("skipped", [])),
        split_description=split_description,
        calibration_description=calibration_description,
        metrics_scope=metrics_scope,
        fused_auc=_figure(fused["auc"]),
        fused_ece=_figure(fused["ece"]),
        fused_floor=_figure(fused["ece_sampling_floor"]),
        fused_above_floor=_figure(fused["ece_above_floor"]),
        fused_log_loss=_figure(fused["log_loss"]),
        fused_accuracy=_figure(fused["accuracy"]),
        pixel_f1=(
            f"{segmentation['pixel_f1']:.3f} (map threshold {segmentation['map_threshold']}, "
            f"{segmentation['masked_images']} images)"
            if segmentation
            else "n/a (no masks)"
        ),
        reliability_png=reliability_png,
        detector_metric_rows=_detector_metric_rows(report["detectors"]),
    )
