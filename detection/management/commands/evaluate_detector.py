"""python manage.py evaluate_detector: calibrate on the calibration split, then report the
paper's metrics on the test split (source images never used for training or calibration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.core.network import CheckpointError
from detection.evaluation.evaluate import calibrate_detector, evaluate_detector
from detection.selectors import configured_network_config

MIN_COUNT = 4  # both classes must be present: half of the generated images are manipulated


class Command(BaseCommand):
    help = (
        "Calibrate the detectors on the calibration split and measure accuracy, EER, AUC, "
        "ECE and pixel accuracy / IoU / F1 on the held-out test split."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--config",
            type=Path,
            help="detector config JSON (default: DETECTION_NETWORK_CONFIG or the shipped one)",
        )
        parser.add_argument("--count", type=int, default=300, help="generated images per split")
        parser.add_argument("--seed", type=int, default=1234)
        parser.add_argument(
            "--stored-calibration",
            action="store_true",
            help="evaluate with the calibration stored in the config instead of refitting it",
        )
        parser.add_argument(
            "--write", action="store_true", help="store calibration and metrics in the config"
        )
        parser.add_argument("--no-timing", action="store_true", help="skip the 1024-px timing")
        parser.add_argument("--cache-dir", type=Path, help="cache of forensic-signal outputs")
        parser.add_argument("--json", action="store_true", help="print the metrics as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        config_path = options["config"] or configured_network_config()
        if not config_path.is_file():
            raise CommandError(f"detector config not found: {config_path}")
        if options["count"] < MIN_COUNT:
            raise CommandError(f"--count must be at least {MIN_COUNT}, got {options['count']}")
        common = {
            "seed": options["seed"],
            "count": options["count"],
            "cache_dir": options["cache_dir"],
        }
        try:
            calibration = None
            if not options["stored_calibration"]:
                calibration = calibrate_detector(config_path, write=options["write"], **common)
            results = evaluate_detector(
                config_path,
                write=options["write"],
                calibration=calibration,
                timing=not options["no_timing"],
                **common,
            )
        except (CheckpointError, ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        if calibration is not None:
            results["calibration"] = calibration["calibration"]
        if options["json"]:
            self.stdout.write(json.dumps(results, indent=2))
        else:
            self.stdout.write(format_results(results, config_path))


def format_results(results: dict[str, Any], config_path: Path) -> str:
    fused, network, seg = results["fused"], results["network_platt"], results["segmentation"]
    lines = [
        f"{config_path}: held-out test split, {results['images']} generated images "
        f"({results['manipulated']} manipulated), seed {results['seed']}",
        f"image (fused, calibrated): accuracy {fused['accuracy']:.3f}  EER {fused['eer']:.3f}  "
        f"AUC {fused['auc']:.3f}  ECE {fused['ece']:.3f}",
        f"image (network, Platt):    accuracy {network['accuracy']:.3f}  "
        f"EER {network['eer']:.3f}  AUC {network['auc']:.3f}  ECE {network['ece']:.3f}",
        f"pixels of manipulated images (map >= {seg['map_threshold']}): accuracy "
        f"{seg['pixel_accuracy_manipulated_images']:.3f}  IoU {seg['iou_manipulated_images']:.3f}"
        f"  F1 {seg['f1_manipulated_images']:.3f}",
        f"pixels of all images: accuracy {seg['pixel_accuracy_all_images']:.3f}  "
        f"F1 {seg['f1_all_images']:.3f}",
    ]
    if "calibration" in results:
        calibration = results["calibration"]
        lines.append(
            f"calibration: fitted on {calibration['images']} calibration-split images "
            "(logistic-regression fusion, Platt scaling of the network, map threshold by F1)"
        )
    if "median_detector_ms_1024px" in results:
        timings = results["median_detector_ms_1024px"]
        lines.append(
            "median ms per 1024-px image: "
            + ", ".join(f"{name} {ms:.0f}" for name, ms in timings.items())
            + f" (total {sum(timings.values()):.0f})"
        )
    return "\n".join(lines)
