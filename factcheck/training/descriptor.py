"""Self-supervised training of the copy descriptor (the SSCD recipe, scaled to a CPU).

    python -m factcheck.training.descriptor --output factcheck/models/descriptor-v1.pt \
        [--steps 2500] [--minutes 60] [--batch-size 48] [--threads 2] [--seed 1234] [--resume]

Every step takes `batch_size` distinct pictures (tune-family photos and procedural images, with
near-identical siblings as separate pictures), two augmented views each, and minimises InfoNCE
(each view must pick its twin among all other views, temperature TEMPERATURE) plus
ENTROPY_WEIGHT times the KoLeo differential-entropy estimate, which spreads the descriptors of
different pictures over the sphere so unrelated images score low. Writes the checkpoint, its
config JSON (`factcheck.core.descriptor`), and a resume file with the optimiser state.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional
from torch.utils.data import DataLoader, IterableDataset

from factcheck.core.descriptor import (
    DescriptorConfig,
    DescriptorNet,
    default_config,
    file_sha256,
)
from factcheck.training.data import Photo, batch_views, load_photos

TEMPERATURE = 0.05
ENTROPY_WEIGHT = 10.0
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
WARMUP_STEPS = 100
LOG_EVERY = 25
SAVE_EVERY = 200


def infonce_koleo(
    descriptors: torch.Tensor, temperature: float = TEMPERATURE
) -> tuple[torch.Tensor, torch.Tensor]:
    """(InfoNCE, KoLeo) of L2-normalised descriptors laid out [views A; views B]."""
    count = descriptors.shape[0] // 2
    similarity = descriptors @ descriptors.T
    eye = torch.eye(2 * count, dtype=torch.bool)
    twin = torch.arange(2 * count).roll(count)
    logits = (similarity / temperature).masked_fill(eye, float("-inf"))
    contrastive = functional.cross_entropy(logits, twin)
    same_picture = eye.clone()
    same_picture[torch.arange(2 * count), twin] = True
    nearest = similarity.detach().masked_fill(same_picture, -2.0).argmax(dim=1)
    distance = (descriptors - descriptors[nearest]).norm(dim=1)
    koleo = -torch.log(distance + 1e-4).mean()
    return contrastive, koleo


def to_tensor(views: np.ndarray | torch.Tensor, config: DescriptorConfig) -> torch.Tensor:
    batch = torch.as_tensor(views).float().div_(255.0)
    mean = torch.tensor(config.mean).view(1, 1, 1, 3)
    std = torch.tensor(config.std).view(1, 1, 1, 3)
    return ((batch - mean) / std).permute(0, 3, 1, 2).contiguous()


class ViewBatches(IterableDataset[np.ndarray]):
    def __init__(
        self, photos: list[Photo], batch_size: int, seed: int, start: int, size: int
    ) -> None:
        self.photos, self.batch_size, self.seed = photos, batch_size, seed
        self.start, self.size = start, size

    def __iter__(self) -> Iterator[np.ndarray]:
        step = self.start
        while True:
            yield batch_views(self.photos, self.batch_size, self.seed, step, self.size)
            step += 1


def learning_rate(progress: float, step: int, base: float) -> float:
    """Linear warm-up, then cosine decay over the run's progress (steps or time, whichever is
    further along, so a time-capped run still ends at a low rate)."""
    if step < WARMUP_STEPS:
        return base * (step + 1) / WARMUP_STEPS
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def save_checkpoint(
    network: DescriptorNet, config: DescriptorConfig, output: Path, training: dict[str, Any]
) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().clone() for key, value in network.state_dict().items()}
    temporary = output.with_suffix(".tmp")
    torch.save(state, temporary)
    temporary.replace(output)
    data = {**config.to_dict(), "weights": output.name, "sha256": file_sha256(output)}
    data["training"] = training
    output.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")


def resume_path(output: Path) -> Path:
    return output.with_name(output.stem + ".resume.pt")


def train(
    *,
    output: Path,
    steps: int,
    minutes: float,
    batch_size: int,
    seed: int,
    threads: int,
    resume: bool = False,
    workers: int = 1,
    config: DescriptorConfig | None = None,
    photos: list[Photo] | None = None,
    log: bool = True,
) -> dict[str, Any]:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    config = config or default_config()
    network = DescriptorNet(config)
    optimiser = torch.optim.AdamW(network.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    start, elapsed_before, history = 0, 0.0, []
    if resume and resume_path(output).is_file():
        state = torch.load(resume_path(output), map_location="cpu", weights_only=True)
        network.load_state_dict(state["network"])
        optimiser.load_state_dict(state["optimiser"])
        start, elapsed_before = int(state["step"]), float(state["elapsed"])
        history = [list(row) for row in state["history"].tolist()]
    photos = load_photos(holdout=False) if photos is None else photos
    loader = DataLoader(
        ViewBatches(photos, batch_size, seed, start, config.input_size),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=2 if workers else None,
    )
    began = time.monotonic()
    network.train()
    step = start
    meta: dict[str, Any] = {}

    def record() -> dict[str, Any]:
        return {
            "recipe": "SSCD-style InfoNCE + KoLeo entropy, two augmented views per picture",
            "temperature": TEMPERATURE,
            "entropy_weight": ENTROPY_WEIGHT,
            "learning_rate": LEARNING_RATE,
            "batch_size": batch_size,
            "seed": seed,
            "threads": threads,
            "steps_planned": steps,
            "minutes_budget": minutes,
            "steps_done": step,
            "training_minutes": round((elapsed_before + time.monotonic() - began) / 60, 2),
            "train_photos": [photo.name for photo in photos],
            "loss_history": history[-40:],
        }

    for views in loader:
        elapsed = elapsed_before + time.monotonic() - began
        if step >= steps or elapsed > minutes * 60:
            break
        rate = learning_rate(max(step / steps, elapsed / (minutes * 60)), step, LEARNING_RATE)
        for group in optimiser.param_groups:
            group["lr"] = rate
        descriptors = network(to_tensor(views, config))
        contrastive, koleo = infonce_koleo(descriptors)
        loss = contrastive + ENTROPY_WEIGHT * koleo
        optimiser.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        optimiser.step()
        step += 1
        if step % LOG_EVERY == 0 or step == 1:
            history.append([step, round(contrastive.item(), 4), round(koleo.item(), 4)])
            if log:
                print(
                    f"step {step}/{steps} infonce={history[-1][1]:.3f} "
                    f"koleo={history[-1][2]:.3f} lr={rate:.5f} {elapsed / 60:.1f} min",
                    flush=True,
                )
        if step % SAVE_EVERY == 0:
            meta = record()
            save_checkpoint(network, config, output, meta)
            torch.save(
                {
                    "network": network.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "step": torch.tensor(step),
                    "elapsed": torch.tensor(elapsed_before + time.monotonic() - began),
                    "history": torch.tensor(history),
                },
                resume_path(output),
            )
    network.eval()
    meta = record()
    save_checkpoint(network, config, output, meta)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the copy-detection descriptor.")
    parser.add_argument("--output", type=Path, default=Path("factcheck/models/descriptor-v1.pt"))
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="data processes (0: inline)")
    parser.add_argument("--resume", action="store_true", help="continue from the resume file")
    args = parser.parse_args(argv)
    meta = train(
        output=args.output,
        steps=args.steps,
        minutes=args.minutes,
        batch_size=args.batch_size,
        seed=args.seed,
        threads=args.threads,
        resume=args.resume,
        workers=args.workers,
    )
    print(json.dumps({k: v for k, v in meta.items() if k not in ("train_photos", "loss_history")}))


if __name__ == "__main__":
    main()
