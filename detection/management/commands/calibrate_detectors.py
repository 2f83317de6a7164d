"""python manage.py calibrate_detectors DATA_DIR: fit the suite's fusion and calibration on a
labelled folder (real/, fake/, optional masks/) and write what the suite loads
(DETECTION_CALIBRATION), a reliability diagram and a filled model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.core.network import CheckpointError
from detection.core.registry import build_suite
from detection.evaluation.folder_calibration import (
    DEFAULT_HOLDOUT,
    SELECTION_RULE,
    calibrate_outputs,
)
from detection.management.detector_sets import (
    CALIBRATION_FILE,
    MODEL_CARD_FILE,
    RELIABILITY_FILE,
    add_detector_arguments,
    detector_configs,
    folder_items,
    is_shadow,
    output_dir_for,
    refuse_overwrite,
    run_detectors_on,
    summary_lines,
    write_json,
    write_run_files,
)


class Command(BaseCommand):
    help = (
        "Calibrate the active detectors on a labelled folder (DATA_DIR/real, DATA_DIR/fake, "
        "optional DATA_DIR/masks) and report AUC, ECE beside its sampling floor and pixel F1 on "
        "a held-out part."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("data_dir", type=Path, metavar="DATA_DIR")
        add_detector_arguments(parser)
        parser.add_argument(
            "--holdout",
            type=float,
            default=DEFAULT_HOLDOUT,
            help="fraction of the images held out to choose the method and measure",
        )
        parser.add_argument("--seed", type=int, default=1234)
        parser.add_argument(
            "--output-dir",
            type=Path,
            help="where the calibration, PNG and card go (default: the first config's folder)",
        )
        parser.add_argument("--force", action="store_true", help="replace files already there")
        parser.add_argument("--json", action="store_true", help="print the calibration as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0.0 < options["holdout"] < 1.0:
            raise CommandError(f"--holdout must be between 0 and 1, got {options['holdout']}")
        configs = [
            c
            for c in detector_configs(options["configs"], forensics=not options["no_forensics"])
            if not is_shadow(c)
        ]
        output_dir = output_dir_for(options["output_dir"], configs)
        written = [
            output_dir / name for name in (CALIBRATION_FILE, RELIABILITY_FILE, MODEL_CARD_FILE)
        ]
        refuse_overwrite(written, options["force"])
        items = folder_items(options["data_dir"])
        try:
            suite = build_suite(configs, faces=False)
            outputs = run_detectors_on(items, suite.detectors)
            calibration = calibrate_outputs(
                outputs, holdout=options["holdout"], seed=options["seed"]
            )
        except (CheckpointError, ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        calibration.report["fitted_on"]["data_dir"] = str(options["data_dir"].resolve())
        metrics = calibration.report["metrics"]
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json(output_dir / CALIBRATION_FILE, calibration.to_dict())
        fitted = calibration.report["fitted_on"]
        # The card's Data section counts the whole folder; its metrics are the held-out part's.
        view = {
            **metrics,
            "images": fitted["images"],
            "manipulated": fitted["manipulated"],
            "skipped": outputs.skipped,
        }
        files = write_run_files(
            output_dir,
            report=view,
            title=f"calibration on {options['data_dir'].name} (held-out part)",
            card=_card(options, configs, fitted, metrics),
        )
        if options["json"]:
            self.stdout.write(json.dumps(calibration.to_dict(), indent=2))
            return
        lines = summary_lines(
            view,
            f"held-out part ({fitted['held_out_images']} of {fitted['images']} images; "
            f"fitted on {fitted['fit_images']})",
        )
        lines.insert(
            1,
            f"fused calibration: {metrics['fused']['method']} (held-out log-loss "
            + ", ".join(f"{k} {v:.3f}" for k, v in metrics["fused"]["held_out_log_loss"].items())
            + ")",
        )
        lines += [
            f"{name}: {found['method']}  AUC {found['auc']:.3f}  ECE {found['ece']:.3f} "
            f"(floor {found['ece_sampling_floor']:.3f})"
            for name, found in metrics["detectors"].items()
        ]
        lines.append(f"detectors ran in {outputs.seconds:.0f} s")
        lines.append(
            f"wrote {output_dir / CALIBRATION_FILE}, {files['reliability']}, {files['model_card']}"
        )
        lines.append(
            f"to use it: DETECTION_CALIBRATION={output_dir / CALIBRATION_FILE} "
            "(with the same detector configs)"
        )
        self.stdout.write("\n".join(lines))


def _card(
    options: dict[str, Any], configs: list[Any], fitted: dict[str, Any], metrics: dict[str, Any]
) -> dict[str, Any]:
    configs_given = " ".join(f"--configs {p}" for p in options["configs"] or [])
    return {
        "command": (
            f"python manage.py calibrate_detectors {options['data_dir']} {configs_given} "
            f"--holdout {options['holdout']} --seed {options['seed']}"
        ).replace("  ", " "),
        "configs": configs,
        "data_description": f"A labelled folder, `{options['data_dir']}` (real/, fake/, masks/).",
        "split_description": (
            f"fitted on {fitted['fit_images']} images, measured on the other "
            f"{fitted['held_out_images']} (held out {fitted['holdout']}, stratified, seed "
            f"{fitted['seed']})"
        ),
        "calibration_description": (
            f"Logistic-regression fusion over the detectors' features, then a "
            f"{metrics['fused']['method']} step on the fused probability; each detector's score "
            f"has its own calibrator. Rule: {SELECTION_RULE}."
        ),
        "metrics_scope": "held-out part",
    }
