"""python manage.py evaluate_detector: calibrate on the calibration split, then report the
paper's metrics on the test split (source images never used for training or calibration).

With --data DATA_DIR it evaluates the suite as configured (nothing fitted) on a labelled folder;
with --compare it puts the shadow configs ("shadow": true) beside the live set on the same items
(the folder, or the generated test split)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.core.calibration import Calibrator, SuiteCalibration, calibrator_from_dict
from detection.core.interface import DetectorConfig
from detection.core.network import CheckpointError
from detection.core.registry import build_detector, build_suite
from detection.evaluation.evaluate import (
    calibrate_detector,
    evaluate_detector,
    make_eval_samples,
)
from detection.evaluation.folder_evaluation import evaluate_outputs
from detection.management.detector_sets import (
    MODEL_CARD_FILE,
    RELIABILITY_FILE,
    REPORT_FILE,
    add_detector_arguments,
    detector_configs,
    folder_items,
    is_shadow,
    refuse_overwrite,
    run_detectors_on,
    summary_lines,
    write_json,
    write_run_files,
)
from detection.selectors import configured_network_config
from detection.training.userdata import LabelledItem

MIN_COUNT = 4  # both classes must be present: half of the generated images are manipulated


class Command(BaseCommand):
    help = (
        "Calibrate the detectors on the calibration split and measure accuracy, EER, AUC, "
        "ECE and pixel accuracy / IoU / F1 on the held-out test split."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_detector_arguments(parser)
        parser.add_argument(
            "--data", type=Path, metavar="DATA_DIR", help="labelled folder: real/, fake/, masks/"
        )
        parser.add_argument(
            "--compare",
            action="store_true",
            help="shadow configs beside the live set on the same items (--data or the test split)",
        )
        parser.add_argument(
            "--calibration",
            type=Path,
            help="a calibrate_detectors JSON to apply (default: DETECTION_CALIBRATION, if set)",
        )
        parser.add_argument(
            "--output-dir",
            type=Path,
            help="where --data / --compare write the reliability PNG, model card and JSON "
            "(default: DATA_DIR)",
        )
        parser.add_argument("--force", action="store_true", help="replace files already there")
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
        if options["count"] < MIN_COUNT:
            raise CommandError(f"--count must be at least {MIN_COUNT}, got {options['count']}")
        if options["data"] is not None or options["compare"]:
            if options["write"] or options["stored_calibration"]:
                raise CommandError("--write and --stored-calibration apply to the generated splits")
            self._evaluate_items(options)
            return
        # The generated splits evaluate one network config: the last given wins, as it always did.
        config_path = (options["configs"] or [configured_network_config()])[-1]
        if not config_path.is_file():
            raise CommandError(f"detector config not found: {config_path}")
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

    def _evaluate_items(self, options: dict[str, Any]) -> None:
        configs = detector_configs(options["configs"], forensics=not options["no_forensics"])
        live = [c for c in configs if not is_shadow(c)]
        shadow = [c for c in configs if is_shadow(c)]
        if options["compare"] and not shadow:
            raise CommandError('--compare needs a config with "shadow": true among --configs')
        output_dir = options["output_dir"] or options["data"]
        if output_dir is not None:
            names = (REPORT_FILE, RELIABILITY_FILE, MODEL_CARD_FILE)
            refuse_overwrite([output_dir / name for name in names], options["force"])
        items = (
            folder_items(options["data"])
            if options["data"] is not None
            else generated_items(options["seed"], options["count"])
        )
        try:
            suite = build_suite(live, faces=False, calibration=_calibration(options["calibration"]))
            outputs = run_detectors_on(items, [*suite.detectors, *map(build_detector, shadow)])
            report = evaluate_outputs(outputs, suite, _shadow_calibrations(shadow))
        except (CheckpointError, ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        scope = str(options["data"] or f"generated test split (seed {options['seed']})")
        lines = summary_lines(report, scope)
        if not report["calibrated"]:
            lines.insert(1, "(no fusion in the configs: the probability is the first detector's)")
        lines += compare_lines(report)
        if output_dir is not None:
            write_json(output_dir / REPORT_FILE, report)
            files = write_run_files(
                output_dir,
                report=report,
                title=f"evaluation on {scope}",
                card=_card(options, configs),
            )
            lines.append(
                f"wrote {output_dir / REPORT_FILE}, {files['reliability']}, {files['model_card']}"
            )
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write("\n".join(lines))


def generated_items(seed: int, count: int) -> list[LabelledItem]:
    """The held-out test split's generated images as labelled items (masks for the fakes)."""
    items = []
    for index, sample in enumerate(make_eval_samples("test", seed, count)):
        label = int(sample.mask.any())
        found = (sample.image, sample.mask if label else None)
        items.append(LabelledItem(f"test-{index:05d}-{sample.kind}", label, partial(_same, found)))
    return items


def _same(
    found: tuple[np.ndarray, np.ndarray | None],
) -> tuple[np.ndarray, np.ndarray | None]:
    return found


def _calibration(path: Path | None) -> SuiteCalibration | None:
    from django.conf import settings

    path = path or (
        Path(settings.DETECTION_CALIBRATION) if settings.DETECTION_CALIBRATION else None
    )
    return SuiteCalibration.from_json(path) if path else None


def _shadow_calibrations(shadow: list[DetectorConfig]) -> dict[str, Calibrator | None]:
    return {
        c.name: calibrator_from_dict(c.params["score_calibration"])
        if c.params.get("score_calibration")
        else None
        for c in shadow
    }


def _card(options: dict[str, Any], configs: list[DetectorConfig]) -> dict[str, Any]:
    configs_given = " ".join(f"--configs {p}" for p in options["configs"] or [])
    data = options["data"]
    return {
        "command": " ".join(
            part
            for part in (
                "python manage.py evaluate_detector",
                f"--data {data}"
                if data
                else f"--seed {options['seed']} --count {options['count']}",
                configs_given,
                "--compare" if options["compare"] else "",
            )
            if part
        ),
        "configs": configs,
        "data_description": (
            f"A labelled folder, `{data}` (real/, fake/, masks/)."
            if data
            else "The generated held-out test split (`evaluate.make_eval_samples`)."
        ),
        "split_description": "every image is evaluated; nothing is fitted on them",
        "calibration_description": (
            "As stored: the suite's fusion and calibration from the configs or the calibration "
            "file named by --calibration / DETECTION_CALIBRATION."
        ),
        "metrics_scope": "all images",
    }


def compare_lines(report: dict[str, Any]) -> list[str]:
    """One row per detector, live and shadow side by side, the fused live set first."""
    fused = report["fused"]
    rows = [
        (
            "live (fused)",
            "",
            fused["auc"],
            fused["ece"],
            fused["ece_sampling_floor"],
            (report.get("segmentation") or {}).get("pixel_f1"),
        )
    ]
    rows += [
        (
            name,
            "shadow" if found["shadow"] else "live",
            found["auc"],
            found["ece"],
            found["ece_sampling_floor"],
            found.get("pixel_f1"),
        )
        for name, found in report["detectors"].items()
    ]
    header = f"{'detector':<16} {'set':<7} {'AUC':>6} {'ECE':>6} {'floor':>6} {'pixel F1':>8}"
    return [header] + [
        f"{name:<16} {kind:<7} {auc:>6.3f} {ece:>6.3f} {floor:>6.3f} "
        + (f"{f1:>8.3f}" if f1 is not None else f"{'n/a':>8}")
        for name, kind, auc, ece, floor, f1 in rows
    ]


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
