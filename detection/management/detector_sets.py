"""What calibrate_detectors and evaluate_detector --data share: which detectors run (config files
plus the built-in forensic signals, as the worker's suite), and the files a run writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from detection.core.forensics import ForensicDetector
from detection.core.interface import DetectorConfig
from detection.core.registry import FORENSIC_CONFIGS
from detection.evaluation.labelled_folder import FolderError, read_labelled_folder
from detection.evaluation.model_card import fill_model_card
from detection.evaluation.outputs import Outputs, collect_outputs
from detection.evaluation.reliability import write_reliability_png
from detection.selectors import configured_detector_configs
from detection.training.userdata import LabelledItem

CALIBRATION_FILE = "detector-calibration.json"
RELIABILITY_FILE = "reliability.png"
MODEL_CARD_FILE = "model-card.md"
REPORT_FILE = "evaluation.json"


def add_detector_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--configs",
        "--config",
        dest="configs",
        type=Path,
        nargs="+",
        action="extend",
        help="detector config JSON files (default: the worker's, DETECTION_DETECTORS or "
        "DETECTION_NETWORK_CONFIG and the shipped forensic signals)",
    )
    parser.add_argument(
        "--no-forensics",
        action="store_true",
        help="leave out the built-in forensic signals (ela, noise, jpeg_ghost)",
    )


def is_shadow(config: DetectorConfig) -> bool:
    """A shadow detector runs and is reported but never enters the fusion or the verdict."""
    return config.shadow


def detector_configs(paths: list[Path] | None, *, forensics: bool) -> list[DetectorConfig]:
    """The configs named, then the built-in forensic signals; by default the worker's own list
    (DETECTION_DETECTORS, or the configured network and the shipped forensic signals).
    `forensics=False` leaves the forensic signals out."""
    configs = []
    for path in paths or configured_detector_configs():
        if not path.is_file():
            raise CommandError(f"detector config not found: {path}")
        try:
            configs.append(DetectorConfig.from_json(path))
        except ValueError as error:
            raise CommandError(str(error)) from None
    if paths and forensics:
        configs += FORENSIC_CONFIGS
    if not forensics:
        configs = [c for c in configs if c.kind not in ForensicDetector.FUNCTIONS]
    names = [c.name for c in configs]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise CommandError(f"two detectors are named {', '.join(duplicated)}")
    return configs


def folder_items(data_dir: Path) -> list[LabelledItem]:
    try:
        return read_labelled_folder(data_dir)
    except FolderError as error:
        raise CommandError(str(error)) from None


def run_detectors_on(items: list[LabelledItem], detectors: list[Any]) -> Outputs:
    try:
        outputs = collect_outputs(
            items, detectors, progress=lambda found: tqdm(found, desc="detectors", unit="image")
        )
    except FolderError as error:
        raise CommandError(str(error)) from None
    labels = outputs.labels()
    if len(set(labels.tolist())) < 2:
        raise CommandError("the images the detectors could judge hold one class only")
    return outputs


def output_dir_for(option: Path | None, configs: list[DetectorConfig]) -> Path:
    """--output-dir, or the folder of the first config file given (never a file in it is
    overwritten without --force: see refuse_overwrite)."""
    if option is not None:
        return option
    first = next((c.source_path for c in configs if c.source_path), None)
    return Path(first).parent if first else Path.cwd()


def refuse_overwrite(paths: list[Path], force: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise CommandError(f"{', '.join(existing)} exist; use --force or another --output-dir")


def write_run_files(
    output_dir: Path,
    *,
    report: dict[str, Any],
    title: str,
    card: dict[str, Any],
) -> dict[str, Path]:
    """The reliability PNG of the fused probability and the filled model card."""
    output_dir.mkdir(parents=True, exist_ok=True)
    png = write_reliability_png(
        report["fused"]["reliability"], output_dir / RELIABILITY_FILE, title
    )
    markdown = output_dir / MODEL_CARD_FILE
    markdown.write_text(
        fill_model_card(title=title, report=report, reliability_png=png.name, **card)
    )
    return {"reliability": png, "model_card": markdown}


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def summary_lines(report: dict[str, Any], scope: str) -> list[str]:
    fused, seg = report["fused"], report.get("segmentation")
    lines = [
        f"{scope}: {fused['images']} images ({fused['manipulated']} manipulated)"
        + (f", {len(report['skipped'])} skipped as not judgeable" if report.get("skipped") else ""),
        f"fused: AUC {fused['auc']:.3f}  ECE {fused['ece']:.3f} (sampling floor "
        f"{fused['ece_sampling_floor']:.3f}, {fused['ece_above_floor']:+.3f} above)  "
        f"log-loss {fused['log_loss']:.3f}  accuracy {fused['accuracy']:.3f}",
    ]
    if seg:
        lines.append(
            f"pixel F1 of the fused map (threshold {seg['map_threshold']}, "
            f"{seg['masked_images']} masked images): {seg['pixel_f1']:.3f}"
        )
    else:
        lines.append("pixel F1: no masks")
    return lines
