"""Training loop for the multi-task network on self-supervised manipulations (CPU, deterministic).

Entry point: `train_model(TrainingConfig(...), Path("detection/models/multitask-v3.pt"))`.
Only the "train" source split is read; calibration and test sources stay unseen.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from detection.core.dense import MAX_ANALYSIS_SIDE, prepare
from detection.core.network import (
    INPUT_SIZE,
    MultiTaskNet,
    NetworkConfig,
    load_checkpoint,
    save_checkpoint,
)
from detection.training.sources import SOURCE_DIRS, group_of_name, load_split
from detection.training.synth import (
    MIN_FAKE_FRACTION,
    SHARED_MAX_SIDE,
    SHARED_MIN_SIDE,
    Sample,
    degrade,
    make_training_pair,
    manipulate,
    random_crop,
)
from detection.training.userdata import LabelledItem, make_example

DICE_WEIGHT = 0.5
WARMUP_STEPS = 50
# Data modes. "crops" (v1, v2): the edit is made on a crop a little larger than the input and
# the crop is shrunk to the input. "shared" (v3): each example is made exactly as evaluation
# makes its images and inference prepares them -- a 512-1024 px crop, edited at that size,
# shared (resize + JPEG), downscaled to max_side like inference -- and then a random window of
# the input size is cut from it. Edited regions then have the size (often larger than a
# window) and the resampling history they have at inference.
DATA_MODES = ("crops", "shared")


@dataclass
class TrainingConfig:
    steps: int = 1500
    batch_size: int = 16
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 1234
    input_size: int = INPUT_SIZE
    threads: int = 2
    max_minutes: float = 45.0  # safety stop; the step count is the normal stop
    log_every: int = 25
    network: NetworkConfig = field(default_factory=NetworkConfig)
    dice_weight: float = DICE_WEIGHT
    # Share of self-supervised examples sent through synth.degrade_chain (0 = v1 recipe).
    chain_probability: float = 0.0
    # Share of each batch drawn from user data sets, when any are given.
    user_fraction: float = 0.5
    init_from: str | None = None  # checkpoint to fine-tune instead of starting from scratch
    data_mode: str = "crops"  # one of DATA_MODES
    max_side: int = MAX_ANALYSIS_SIDE  # "shared" mode: inference's analysis size


def seed_everything(seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


class PairStream:
    """Infinite deterministic stream of (image, mask, label, mask_known) batches from training
    sources, mixed with user data set items when given."""

    def __init__(
        self,
        sources: list[tuple[str, np.ndarray]],
        seed: int,
        size: int,
        chain_probability: float = 0.0,
        user_items: list[LabelledItem] | None = None,
        user_fraction: float = 0.5,
        data_mode: str = "crops",
        max_side: int = MAX_ANALYSIS_SIDE,
    ) -> None:
        if data_mode not in DATA_MODES:
            raise ValueError(f"unknown data mode {data_mode!r}; expected one of {DATA_MODES}")
        self.data_mode, self.max_side = data_mode, max_side
        if len(sources) < 2:
            raise ValueError("training needs at least two source images")
        self.chain_probability = chain_probability
        self.user_items = list(user_items or [])
        self.user_fraction = user_fraction if self.user_items else 0.0
        self.images = [image for _, image in sources]
        # Sample by group so 28 stereo calibration shots do not outweigh one landscape.
        groups: dict[str, list[int]] = {}
        for index, (name, _) in enumerate(sources):
            groups.setdefault(group_of_name(name), []).append(index)
        self.groups = list(groups.values())
        self.rng = np.random.default_rng(seed)
        self.size = size

    def _synthetic(self) -> tuple[np.ndarray, np.ndarray, float, bool]:
        first_group, second_group = self.rng.choice(len(self.groups), 2, replace=False)
        first = self.rng.choice(self.groups[first_group])
        second = self.rng.choice(self.groups[second_group])
        if self.data_mode == "shared":
            sample = shared_view(
                self.images[first], self.images[second], self.rng, self.size, self.max_side
            )
        else:
            sample = make_training_pair(
                self.images[first],
                self.images[second],
                self.rng,
                self.size,
                chain_probability=self.chain_probability,
            )
        fake = sample.mask.mean() >= MIN_FAKE_FRACTION
        return sample.image, sample.mask if fake else np.zeros_like(sample.mask), float(fake), True

    def _user(self) -> tuple[np.ndarray, np.ndarray, float, bool]:
        while self.user_items:
            index = int(self.rng.integers(len(self.user_items)))
            try:
                example = make_example(self.user_items[index], self.rng, self.size)
            except (OSError, ValueError) as error:
                # One unreadable frame must not end an hour of training: drop it and go on.
                print(f"skipping {self.user_items[index].name}: {error}", flush=True)
                del self.user_items[index]
                continue
            return example.image, example.mask, float(example.label), example.mask_known
        raise ValueError("none of the user data set images could be read")

    def batch(
        self, batch_size: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images N x 3 x S x S, masks N x 1 x S x S, labels N, mask_known N bool)."""
        rows = []
        for _ in range(batch_size):
            use_user = self.user_fraction > 0 and self.rng.random() < self.user_fraction
            rows.append(self._user() if use_user else self._synthetic())
        images, masks, labels, known = zip(*rows, strict=True)
        return (
            to_tensor_batch(list(images)),
            torch.from_numpy(np.stack(masks)[:, None]).float(),
            torch.tensor(labels),
            torch.tensor(known),
        )


def shared_view(
    image: np.ndarray,
    donor: np.ndarray,
    rng: np.random.Generator,
    size: int,
    max_side: int,
    fake_probability: float = 0.5,
) -> Sample:
    """A size x size window of an image made the way evaluation makes its images (edited or
    not at 512-1024 px, then resized and recompressed) and prepared the way inference prepares
    them (downscaled to max_side, tiny images upscaled to one window)."""
    side = min(int(rng.integers(SHARED_MIN_SIDE, SHARED_MAX_SIDE + 1)), *image.shape[:2])
    crop = random_crop(image, side, rng)
    if rng.random() < fake_probability:
        sample = manipulate(crop, random_crop(donor, side, rng), rng)
    else:
        sample = Sample(crop, np.zeros(crop.shape[:2], np.uint8), "real")
    shared = degrade(sample, rng)
    prepared = prepare(shared.image, max_side, size)
    mask = shared.mask
    if prepared.shape[:2] != mask.shape:
        mask = cv2.resize(
            mask, (prepared.shape[1], prepared.shape[0]), interpolation=cv2.INTER_NEAREST
        )
    y = int(rng.integers(0, prepared.shape[0] - size + 1))
    x = int(rng.integers(0, prepared.shape[1] - size + 1))
    window = np.ascontiguousarray(prepared[y : y + size, x : x + size])
    return Sample(window, np.ascontiguousarray(mask[y : y + size, x : x + size]), sample.kind)


def to_tensor_batch(images: list[np.ndarray]) -> torch.Tensor:
    array = np.stack(images).astype(np.float32) / 255.0
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


def multitask_loss(
    image_logit: torch.Tensor,
    map_logits: torch.Tensor,
    labels: torch.Tensor,
    masks: torch.Tensor,
    mask_known: torch.Tensor | None = None,
    dice_weight: float = DICE_WEIGHT,
) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE on the image label + BCE and soft Dice on the mask (Dice over the whole batch, so
    all-real batches do not divide by zero). Examples whose mask is unknown (user data without
    masks) train the classifier only."""
    classification = F.binary_cross_entropy_with_logits(image_logit, labels)
    if mask_known is not None and not bool(mask_known.all()):
        if not bool(mask_known.any()):
            return classification, {"cls": classification.item(), "seg": 0.0, "dice": 0.0}
        map_logits, masks = map_logits[mask_known], masks[mask_known]
    segmentation = F.binary_cross_entropy_with_logits(map_logits, masks)
    probabilities = torch.sigmoid(map_logits)
    intersection = (probabilities * masks).sum()
    dice = 1.0 - (2 * intersection + 1.0) / (probabilities.sum() + masks.sum() + 1.0)
    total = classification + segmentation + dice_weight * dice
    parts = {"cls": classification.item(), "seg": segmentation.item(), "dice": dice.item()}
    return total, parts


def _learning_rate(config: TrainingConfig, step: int, elapsed_minutes: float) -> float:
    """Warm-up then cosine decay. Progress is the larger of step and time fractions, so a run
    stopped by its time budget on a busy machine still ends annealed; runs that finish by step
    count (the normal case) are exactly reproducible."""
    if step < WARMUP_STEPS:
        return config.learning_rate * (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / max(1, config.steps - WARMUP_STEPS)
    progress = max(progress, elapsed_minutes / config.max_minutes)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _print_now(line: str) -> None:
    print(line, flush=True)


def _initial_model(config: TrainingConfig) -> MultiTaskNet:
    if config.init_from is None:
        return MultiTaskNet(config.network).train()
    model = load_checkpoint(config.init_from)  # its architecture wins over config.network
    if config.network.map_score and not model.config.map_score:
        # Fine-tuning adds the map-score term: new parameters start at their defaults.
        upgraded = MultiTaskNet(replace(model.config, map_score=True))
        result = upgraded.load_state_dict(model.state_dict(), strict=False)
        if result.unexpected_keys or set(result.missing_keys) != {"map_gain"}:
            raise ValueError(f"cannot add the map score to {config.init_from}: {result}")
        model = upgraded
    config.network = model.config
    return model.train()


def train_model(
    config: TrainingConfig,
    output: Path,
    user_items: list[LabelledItem] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Train (from scratch, or from config.init_from) and save the checkpoint; returns a
    JSON-safe training summary. user_items (FaceForensics++ / OpenForensics) are mixed into
    every batch at config.user_fraction."""
    progress = progress or _print_now
    seed_everything(config.seed, config.threads)
    sources = load_split("train", config.seed)
    stream = PairStream(
        sources,
        config.seed,
        config.input_size,
        chain_probability=config.chain_probability,
        user_items=user_items,
        user_fraction=config.user_fraction,
        data_mode=config.data_mode,
        max_side=config.max_side,
    )
    model = _initial_model(config)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    started = time.monotonic()
    running: dict[str, float] = {}
    step = 0
    for step in range(config.steps):
        if time.monotonic() - started > config.max_minutes * 60:
            progress(f"stopping at step {step}: time budget of {config.max_minutes} min reached")
            step -= 1  # the last completed step; keeps steps_done exact
            break
        for group in optimiser.param_groups:
            group["lr"] = _learning_rate(config, step, (time.monotonic() - started) / 60)
        images, masks, labels, known = stream.batch(config.batch_size)
        image_logit, map_logits = model(images)
        loss, parts = multitask_loss(
            image_logit, map_logits, labels, masks, known, config.dice_weight
        )
        optimiser.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimiser.step()
        running = {k: 0.9 * running.get(k, v) + 0.1 * v for k, v in parts.items()}
        if step % config.log_every == 0 or step == config.steps - 1:
            elapsed = time.monotonic() - started
            progress(
                f"step {step:5d} {elapsed / 60:6.1f} min "
                + " ".join(f"{k}={v:.4f}" for k, v in running.items())
            )
    summary = {
        "steps_done": step + 1,
        "training_minutes": round((time.monotonic() - started) / 60, 2),
        "train_sources": [name for name, _ in sources],
        "user_data_items": len(user_items or []),
        "final_losses": {k: round(v, 4) for k, v in running.items()},
        "config": {**asdict(config), "network": config.network.to_dict()},
    }
    save_checkpoint(
        model.eval(),
        output,
        extra={"seed": config.seed, "steps": step + 1, "input_size": config.input_size},
    )
    return summary


WEIGHTS_LICENCE = "Apache-2.0 (trained by Provenant from permissively licensed sample images)"
# detector-config/1's licence stamp: the SPDX id, and where the weights came from.
LICENCE_ID = "Apache-2.0"
SOURCE = (
    "Provenant: trained by python manage.py train_detector on self-supervised edits of "
    "permissively licensed sample images (training.command; model card "
    "docs/model-card-multitask.md)"
)
TRAINING_DATA = (
    "Self-supervised manipulations (splices with hard/feathered edges, self-blends, copy-move, "
    "OpenCV inpainting, recolouring) generated on the fly by detection.training.synth from the "
    "'train' split of detection.training.sources: scikit-image bundled samples, scikit-learn "
    f"sample images and the images under {', '.join(str(root) for root in SOURCE_DIRS)}; split "
    "by source group (train / calibration / test disjoint); resize 0.45-1.0 and JPEG 55-97 "
    "applied to real and fake."
)


def write_detector_config(
    output: Path, summary: dict[str, Any], command: str, version: str
) -> Path:
    """Detector config JSON next to the checkpoint; calibration and evaluation add to it."""
    config_path = output.with_suffix(".json")
    input_size = int(summary["config"]["input_size"])
    data = {
        "schema": "detector-config/1",
        "name": "multitask",
        "version": version,
        "kind": "multitask",
        "weights": output.name,
        "weights_licence": WEIGHTS_LICENCE,
        "licence": LICENCE_ID,
        "commercial_use": True,
        "source": SOURCE,
        "input_size": input_size,
        "tile": input_size,
        "max_side": int(summary["config"].get("max_side", MAX_ANALYSIS_SIDE)),
        "thresholds": {"likely_manipulated": 0.5, "map": 0.5},
        "training": {
            "data": TRAINING_DATA,
            "seed": summary["config"]["seed"],
            "command": command,
            **{k: v for k, v in summary.items() if k != "config"},
            "hyper_parameters": summary["config"],
        },
    }
    config_path.write_text(json.dumps(data, indent=2) + "\n")
    return config_path


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Train the multi-task manipulation detector.")
    parser.add_argument("--output", type=Path, required=True, help="checkpoint path (.pt)")
    parser.add_argument("--steps", type=int, default=TrainingConfig.steps)
    parser.add_argument("--batch-size", type=int, default=TrainingConfig.batch_size)
    parser.add_argument("--input-size", type=int, default=TrainingConfig.input_size)
    parser.add_argument("--learning-rate", type=float, default=TrainingConfig.learning_rate)
    parser.add_argument("--seed", type=int, default=TrainingConfig.seed)
    parser.add_argument("--threads", type=int, default=TrainingConfig.threads)
    parser.add_argument("--max-minutes", type=float, default=TrainingConfig.max_minutes)
    parser.add_argument("--no-residual", action="store_true", help="RGB input only (ablation)")
    parser.add_argument("--version", default="1.0.0", help="detector version in the config")
    parser.add_argument("--dice-weight", type=float, default=DICE_WEIGHT)
    parser.add_argument("--chain-probability", type=float, default=0.0)
    parser.add_argument("--init-from", help="checkpoint to fine-tune")
    parser.add_argument("--data-mode", choices=DATA_MODES, default="crops")
    parser.add_argument("--map-score", action="store_true", help="image logit uses the map")
    args = parser.parse_args(argv)
    config = TrainingConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        input_size=args.input_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        threads=args.threads,
        max_minutes=args.max_minutes,
        network=NetworkConfig(residual_channels=not args.no_residual, map_score=args.map_score),
        dice_weight=args.dice_weight,
        chain_probability=args.chain_probability,
        init_from=args.init_from,
        data_mode=args.data_mode,
    )
    summary = train_model(config, args.output)
    command = "python -m detection.training.train " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    write_detector_config(args.output, summary, command, args.version)
    print(json.dumps({k: v for k, v in summary.items() if k != "train_sources"}, indent=2))


if __name__ == "__main__":
    main()
