"""`manage.py calibrate_video_detection [--videos N] [--seed S] [--output PATH] [--work-dir DIR]
[--json]`."""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from detection.selectors import DetectionUnavailable
from moderation.video_calibration_fit import video_calibration_fit

# Fewer videos per split leave a fold of the model selection without both labels.
MIN_VIDEOS = 8


class Command(BaseCommand):
    help = (
        "Fit the video-level calibration on generated labelled videos over the detectors' "
        "calibration stills, measure it on the test stills (AUC, ECE with its sampling floor, "
        "reliability, before and after) and store it next to the detector config."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--videos", type=int, default=60, help="Videos per split, half manipulated."
        )
        parser.add_argument("--seed", type=int, default=17)
        parser.add_argument(
            "--output",
            type=Path,
            help="Where to write the calibration (default: next to the detector config, "
            "where the analysis reads it).",
        )
        parser.add_argument("--work-dir", type=Path, help="Keep the generated videos here.")
        parser.add_argument("--json", action="store_true", help="Print the stored document.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["videos"] < MIN_VIDEOS:
            raise CommandError(f"--videos must be at least {MIN_VIDEOS}")
        output = options["output"]
        if output is not None and not output.parent.is_dir():
            raise CommandError(f"--output: {output.parent} is not a directory")
        try:
            document = video_calibration_fit(
                videos=options["videos"],
                seed=options["seed"],
                output=output,
                work_dir=options["work_dir"],
                progress=lambda videos: tqdm(videos, desc="videos", unit="video"),
            )
        except (DetectionUnavailable, ValueError, OSError) as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(document, indent=1))
            return
        self._print(document)

    def _print(self, document: dict[str, Any]) -> None:
        test = document["test"]
        self.stdout.write(
            f"fitted for {document['detector_config']['name']} "
            f"{document['detector_config']['version']}: {document['model']['method']} "
            f"(out-of-fold log-loss {document['selection']['out_of_fold_log_loss']})"
        )
        self.stdout.write(
            f"test split: {test['videos']} videos, {test['manipulated']} manipulated, "
            f"{test['stills']} stills"
        )
        for name in ("uncalibrated", "calibrated"):
            figures = test[name]
            self.stdout.write(
                f"{name}: AUC {figures['auc']}, ECE {figures['ece']} "
                f"(sampling floor {figures['ece_sampling_floor']}), "
                f"log-loss {figures['log_loss']}, accuracy {figures['accuracy_at_0_5']}"
            )
            for row in figures["reliability"]:
                self.stdout.write(
                    f"  {row['bin']}: {row['videos']} videos, mean p {row['mean_probability']}, "
                    f"observed {row['observed']}"
                )
        self.stdout.write(f"{document['seconds']} s")
