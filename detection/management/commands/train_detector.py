"""python manage.py train_detector: train the multi-task detector, then calibrate it."""

from __future__ import annotations

import shlex
from argparse import ArgumentTypeError
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.core.network import ENCODER_STRIDE, CheckpointError, NetworkConfig
from detection.evaluation.evaluate import calibrate_detector
from detection.training.train import (
    DATA_MODES,
    DICE_WEIGHT,
    TrainingConfig,
    train_model,
    write_detector_config,
)
from detection.training.userdata import LabelledItem, faceforensics_items, openforensics_items

MIN_INPUT_SIZE = 2 * ENCODER_STRIDE  # the decoder needs at least a 2x2 bottleneck
MAX_INPUT_SIZE = 1024
DEFAULT_CALIBRATION_COUNT = 300


def _positive(kind: type) -> Any:
    """argparse type: a positive int or float (bad values end in a one-line usage error)."""

    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            raise ArgumentTypeError(f"must be a number, got {raw!r}") from None
        if value <= 0:
            raise ArgumentTypeError(f"must be positive, got {raw}")
        return value

    return parse


def _fraction(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ArgumentTypeError(f"must be a number, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ArgumentTypeError(f"must be between 0 and 1, got {raw}")
    return value


REPRODUCING_OPTIONS = (
    "steps",
    "minutes",
    "seed",
    "threads",
    "batch_size",
    "input_size",
    "learning_rate",
    "dice_weight",
    "chain_probability",
    "init_from",
    "data_mode",
    "map_score",
    "model_version",
    "faceforensics",
    "openforensics",
    "user_fraction",
    "calibration_count",
)


def reproducing_command(options: dict[str, Any], output: Path) -> str:
    """The full command line (every training option spelled out), stored in the model JSON."""
    words = ["python", "manage.py", "train_detector", "--output", str(output)]
    for name in REPRODUCING_OPTIONS:
        value = options.get(name)
        if value is None or value is False:
            continue
        if value is True:  # a flag
            words.append("--" + name.replace("_", "-"))
            continue
        words.append("--" + name.replace("_", "-"))
        words += [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    return shlex.join(words)


class Command(BaseCommand):
    help = (
        "Train the multi-task manipulation detector on self-supervised edits of the bundled "
        "training photos (plus FaceForensics++ / OpenForensics data you bring), then calibrate "
        "it on the calibration split. Writes OUTPUT.pt and OUTPUT.json."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        default = TrainingConfig()
        parser.add_argument(
            "--output",
            type=Path,
            help="checkpoint path (.pt); default: $DATA_DIR/models/multitask-custom.pt",
        )
        parser.add_argument("--steps", type=_positive(int), default=default.steps)
        parser.add_argument(
            "--minutes",
            type=_positive(float),
            default=default.max_minutes,
            help="time budget (stops early)",
        )
        parser.add_argument("--seed", type=int, default=default.seed)
        parser.add_argument("--threads", type=_positive(int), default=default.threads)
        parser.add_argument("--batch-size", type=_positive(int), default=default.batch_size)
        parser.add_argument("--input-size", type=_positive(int), default=default.input_size)
        parser.add_argument("--learning-rate", type=_positive(float), default=default.learning_rate)
        parser.add_argument("--dice-weight", type=_fraction, default=DICE_WEIGHT)
        parser.add_argument(
            "--chain-probability",
            type=_fraction,
            default=default.chain_probability,
        )
        parser.add_argument("--init-from", type=Path, help="checkpoint to fine-tune")
        parser.add_argument(
            "--data-mode",
            choices=DATA_MODES,
            default=default.data_mode,
            help="crops: v1/v2 recipe; shared: windows of evaluation-like shared images",
        )
        parser.add_argument(
            "--map-score",
            action="store_true",
            help="add the pooled segmentation logits to the image logit",
        )
        parser.add_argument(
            "--model-version", default="custom", help="detector version in the JSON"
        )
        parser.add_argument(
            "--faceforensics",
            type=Path,
            metavar="DIR",
            help="FaceForensics++-style folder (original_sequences/, "
            "manipulated_sequences/<method>/{frames,masks}/)",
        )
        parser.add_argument(
            "--openforensics",
            type=Path,
            nargs=2,
            metavar=("ANNOTATIONS", "IMAGES"),
            help="OpenForensics COCO-style JSON and its image folder",
        )
        parser.add_argument(
            "--user-fraction",
            type=_fraction,
            default=default.user_fraction,
            help="share of each batch from the data sets above",
        )
        parser.add_argument(
            "--calibration-count",
            type=int,
            default=DEFAULT_CALIBRATION_COUNT,
            help="generated calibration images (0: do not calibrate)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        output = self._output(options["output"])
        if not MIN_INPUT_SIZE <= options["input_size"] <= MAX_INPUT_SIZE or (
            options["input_size"] % ENCODER_STRIDE
        ):
            raise CommandError(
                f"--input-size must be a multiple of {ENCODER_STRIDE} between "
                f"{MIN_INPUT_SIZE} and {MAX_INPUT_SIZE}, got {options['input_size']}"
            )
        if options["batch_size"] < 2:
            raise CommandError("--batch-size must be at least 2 (batch normalisation)")
        if options["calibration_count"] < 0 or 0 < options["calibration_count"] < 4:
            raise CommandError("--calibration-count must be 0 (skip) or at least 4")
        if options["init_from"] is not None and not options["init_from"].is_file():
            raise CommandError(f"--init-from: checkpoint not found: {options['init_from']}")
        user_items = self._user_items(options)
        config = TrainingConfig(
            steps=options["steps"],
            batch_size=options["batch_size"],
            learning_rate=options["learning_rate"],
            seed=options["seed"],
            input_size=options["input_size"],
            threads=options["threads"],
            max_minutes=options["minutes"],
            dice_weight=options["dice_weight"],
            chain_probability=options["chain_probability"],
            user_fraction=options["user_fraction"],
            init_from=str(options["init_from"]) if options["init_from"] else None,
            data_mode=options["data_mode"],
            network=NetworkConfig(map_score=options["map_score"]),
        )
        try:
            summary = train_model(config, output, user_items, progress=self.stdout.write)
        except CheckpointError as error:
            raise CommandError(str(error)) from None
        command = reproducing_command(options, output)
        config_path = write_detector_config(output, summary, command, options["model_version"])
        self.stdout.write(
            f"trained {summary['steps_done']} steps in {summary['training_minutes']} min: "
            f"{output}, {config_path}"
        )
        if options["calibration_count"]:
            fitted = calibrate_detector(
                config_path, seed=options["seed"], count=options["calibration_count"]
            )
            calibration = fitted["calibration"]
            self.stdout.write(
                f"calibrated on {calibration['images']} calibration-split images: "
                f"fused ECE {calibration['fused_ece_on_calibration']}, map threshold "
                f"{fitted['thresholds']['map']}"
            )
        self.stdout.write(f"use it with DETECTION_NETWORK_CONFIG={config_path.resolve()}")

    def _output(self, output: Path | None) -> Path:
        output = output or Path(settings.MODELS_CACHE_DIR) / "multitask-custom.pt"
        if output.suffix != ".pt":
            raise CommandError(f"--output must end in .pt, got {output}")
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"cannot create {output.parent}: {error.strerror}") from None
        return output

    def _user_items(self, options: dict[str, Any]) -> list[LabelledItem]:
        items: list[LabelledItem] = []
        if options["faceforensics"] is not None:
            try:
                found = faceforensics_items(options["faceforensics"])
            except FileNotFoundError as error:
                raise CommandError(f"--faceforensics: {error}") from None
            if not found:
                raise CommandError(f"--faceforensics: no frames under {options['faceforensics']}")
            items += found
        if options["openforensics"] is not None:
            annotations, images = options["openforensics"]
            if not images.is_dir():
                raise CommandError(f"--openforensics: image folder not found: {images}")
            try:
                found = openforensics_items(annotations, images)
            except (ValueError, KeyError) as error:
                raise CommandError(f"--openforensics: {error}") from None
            if not found:
                raise CommandError(f"--openforensics: {annotations} lists no images")
            items += found
        missing = [item.name for item in items if not Path(item.name).is_file()]
        if missing:
            raise CommandError(
                f"{len(missing)} listed images are missing, e.g. {', '.join(missing[:3])}"
            )
        return items
