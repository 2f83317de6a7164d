"""Per-step time of the default suite on one 1024 x 1024 photo: median wall and CPU (process)
milliseconds for each detector and for face finding + scoring.

    python -m detection.evaluation.timing [--config PATH.json] [--threads N] [--repeats N]

CPU time is reported next to wall time because the reference machine is shared: under load
the wall time of a step grows with other jobs, its CPU time much less.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch

from detection.core.faces import CropScorer, analyze_faces
from detection.core.registry import DEFAULT_NETWORK_CONFIG, build_suite, default_configs

TIMING_SIDE = 1024


def timing_image() -> np.ndarray:
    """The photo every detector timing uses: scikit-image's astronaut at TIMING_SIDE square."""
    from skimage import data

    astronaut: np.ndarray = data.astronaut()
    return cv2.resize(astronaut, (TIMING_SIDE, TIMING_SIDE))


def median_ms(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    run()  # warm-up: allocations, lazy imports, cascade loading
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return round(float(np.median(walls)), 1), round(float(np.median(cpus)), 1)


def time_suite(config: Path, threads: int, repeats: int) -> dict[str, object]:
    torch.set_num_threads(threads)
    suite = build_suite(default_configs(config))
    image = timing_image()
    steps: dict[str, Callable[[], object]] = {
        d.name: partial(d.analyze, image) for d in suite.detectors
    }
    scorer = next((d for d in suite.detectors if isinstance(d, CropScorer)), None)
    if suite.face_finder is not None:
        steps["faces"] = partial(analyze_faces, image, suite.face_finder, scorer)
    load_before = os.getloadavg()[0]
    measured = {name: median_ms(run, repeats) for name, run in steps.items()}
    detectors = [name for name in measured if name != "faces"]
    return {
        "config": str(config),
        "image_side": TIMING_SIDE,
        "torch_threads": threads,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "wall_ms": {name: wall for name, (wall, _) in measured.items()},
        "cpu_ms": {name: cpu for name, (_, cpu) in measured.items()},
        "detectors_wall_ms": round(sum(measured[n][0] for n in detectors), 1),
        "detectors_cpu_ms": round(sum(measured[n][1] for n in detectors), 1),
    }


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_NETWORK_CONFIG)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(time_suite(args.config, args.threads, args.repeats), indent=2))


if __name__ == "__main__":
    main()
