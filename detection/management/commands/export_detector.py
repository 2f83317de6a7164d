"""python manage.py export_detector: the built-in multi-task network as an ONNX or TorchScript
file plus the detector config that runs it (list that config in DETECTION_DETECTORS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.core.interface import DetectorConfig
from detection.core.network import CheckpointError
from detection.core.registry import build_detector
from detection.selectors import configured_network_config
from detection.training.export import EXPORT_FORMATS, export_detector


class Command(BaseCommand):
    help = (
        "Export the multi-task network to ONNX or TorchScript and write the detector config "
        "(PATH with suffix .json) that runs it; the exported detector is loaded once to check it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--config",
            type=Path,
            help="detector config JSON (default: DETECTION_NETWORK_CONFIG or the shipped one)",
        )
        parser.add_argument("--format", choices=EXPORT_FORMATS, required=True)
        parser.add_argument("--output", type=Path, required=True, help="model file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        config = options["config"] or configured_network_config()
        output: Path = options["output"]
        if output.suffix.lower() == ".json":
            raise CommandError(f"--output {output} would be overwritten by its own config")
        try:
            written = export_detector(config, fmt=options["format"], output=output)
            build_detector(DetectorConfig.from_json(written))  # loads and checks the file
        except (CheckpointError, ValueError, OSError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"wrote {output} and {written} (DETECTION_DETECTORS lists configs)")
