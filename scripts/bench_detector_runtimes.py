"""Side by side: the shipped multi-task network through its built-in PyTorch path, exported to
ONNX (onnxruntime) and to TorchScript, each built by the registry from its config as a worker
builds it.

Exports the configured network to a temporary folder, then runs the three detectors in turn on
each image (round-robin, so load from other jobs falls on all three alike) and prints, per
image and overall, the median milliseconds of `detector.analyze` (score + map on the image's
grid, resizing included), each runtime's ratio to the PyTorch path, and the largest difference
of its score and map from the PyTorch path's.

    OMP_WAIT_POLICY=PASSIVE python scripts/bench_detector_runtimes.py [--repeats 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from skimage import data

from detection.core.interface import DetectorConfig, DetectorResult
from detection.core.registry import DEFAULT_NETWORK_CONFIG, build_detector
from detection.training.export import export_detector

PHOTOS = (
    Path("/usr/share/backgrounds/mate/nature/LadyBird.jpg"),
    Path("/usr/share/doc/opencv-doc/examples/data/building.jpg"),
)
RUNTIMES = ("torch", "onnx", "torchscript")


def images() -> dict[str, np.ndarray]:
    found = {
        "astronaut 512x512": data.astronaut(),
        "coffee 600x400": data.coffee(),
        "chelsea 451x300": data.chelsea(),
    }
    for path in PHOTOS:
        if path.is_file():
            image = np.asarray(Image.open(path).convert("RGB"))
            found[f"{path.name} {image.shape[1]}x{image.shape[0]}"] = image
    return found


def detectors(config: Path, folder: Path) -> dict[str, Any]:
    configs = {
        "torch": config,
        # Distinct stems: each export writes its config next to the model, stem + .json.
        "onnx": export_detector(config, fmt="onnx", output=folder / "onnx-net.onnx"),
        "torchscript": export_detector(config, fmt="torchscript", output=folder / "ts-net.pt"),
    }
    return {name: build_detector(DetectorConfig.from_json(path)) for name, path in configs.items()}


def difference(result: DetectorResult, reference: DetectorResult) -> float:
    assert result.map is not None and reference.map is not None
    return max(abs(result.score - reference.score), float(np.abs(result.map - reference.map).max()))


def measure(built: dict[str, Any], pictures: dict[str, np.ndarray], repeats: int) -> dict:
    rows = {}
    for label, image in pictures.items():
        results = {name: detector.analyze(image) for name, detector in built.items()}  # warm-up
        timings: dict[str, list[float]] = {name: [] for name in built}
        cpu: dict[str, list[float]] = {name: [] for name in built}
        for _ in range(repeats):
            for name, detector in built.items():
                began, began_cpu = time.perf_counter(), time.process_time()
                detector.analyze(image)
                timings[name].append((time.perf_counter() - began) * 1000)
                cpu[name].append((time.process_time() - began_cpu) * 1000)
        medians = {name: statistics.median(values) for name, values in timings.items()}
        rows[label] = {
            "median_ms": {name: round(value, 1) for name, value in medians.items()},
            # CPU time of all threads: depends far less on other jobs than wall-clock time.
            "median_cpu_ms": {
                name: round(statistics.median(values), 1) for name, values in cpu.items()
            },
            "ratio_to_torch": {
                name: round(medians[name] / medians["torch"], 3) for name in RUNTIMES[1:]
            },
            "max_difference": {
                name: float(f"{difference(results[name], results['torch']):.2g}")
                for name in RUNTIMES[1:]
            },
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_NETWORK_CONFIG)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        built = detectors(args.config, Path(folder))
        rows = measure(built, images(), args.repeats)
    overall = {
        name: round(statistics.median(row["ratio_to_torch"][name] for row in rows.values()), 3)
        for name in RUNTIMES[1:]
    }
    overall_cpu = {
        name: round(
            statistics.median(
                row["median_cpu_ms"][name] / row["median_cpu_ms"]["torch"] for row in rows.values()
            ),
            3,
        )
        for name in RUNTIMES[1:]
    }
    summary = {
        "config": str(args.config),
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "images": rows,
        "median_ratio_to_torch": overall,
        "median_cpu_ratio_to_torch": overall_cpu,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{args.config.name}, {args.repeats} rounds, torch threads {torch.get_num_threads()}")
    print("median wall-clock ms (CPU ms of all threads)")
    print(f"{'image':<28}" + "".join(f"{name:>20}" for name in RUNTIMES) + "  onnx/torch  ts/torch")
    for label, row in rows.items():
        times = "".join(
            f"{row['median_ms'][name]:>11.1f} ({row['median_cpu_ms'][name]:>6.1f})"
            for name in RUNTIMES
        )
        ratios = row["ratio_to_torch"]
        print(f"{label:<28}{times}  {ratios['onnx']:>10.3f}  {ratios['torchscript']:>8.3f}")
    print(f"median wall-clock ratio to torch: {overall}")
    print(f"median CPU-time ratio to torch: {overall_cpu}")
    worst = {
        name: max(row["max_difference"][name] for row in rows.values()) for name in RUNTIMES[1:]
    }
    print(f"largest score / map difference from torch: {worst}")


if __name__ == "__main__":
    main()
