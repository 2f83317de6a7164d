"""Recall, false positives and speed of each face finder, side by side on the same images.

    python scripts/bench_face_finders.py [--scenes 40] [--repeats 3] [--threads 1]
        [--yunet-model PATH.onnx] [--mtcnn MAX_SIDE:MIN_FACE:FACTOR[:ONET_THRESHOLD] ...] [--json]

Images (detection.evaluation.face_scenes): the astronaut at 512 and 1024 px, photos without
faces, and generated scenes with faces at known boxes (sizes 32-160 px, rotations -20/0/+20
degrees). A found box counts when it overlaps a true face with IoU >= 0.5 (each true face is
matched once); every other box is a false positive. Each image is given to every finder in turn
(warmed up first), so a busy machine slows all of them alike; ms per image is the median wall
time over images of the best of --repeats runs, and the CPU time of the same calls is printed
next to it. Torch uses --threads threads (a worker's detectors share the process's threads).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from detection.core.faces import CascadeFinder, FaceFinder, YunetFinder, box_iou
from detection.evaluation.face_scenes import Scene, generated_scenes, photo_scenes

MATCH_IOU = 0.5


@dataclass
class Tally:
    faces: int = 0
    found: int = 0
    false_positives: int = 0
    images: int = 0
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    by_side: dict[int, list[int]] = field(default_factory=dict)  # side -> [found, total]

    def add(self, scene: Scene, boxes: list[tuple[int, int, int, int]]) -> None:
        unmatched = list(scene.faces)
        for box in boxes:
            best = max(unmatched, key=lambda truth: box_iou(truth, box), default=None)
            if best is not None and box_iou(best, box) >= MATCH_IOU:
                unmatched.remove(best)
            else:
                self.false_positives += 1
        for truth in scene.faces:
            counts = self.by_side.setdefault(max(truth[2:]), [0, 0])
            counts[0] += truth not in unmatched
            counts[1] += 1
        self.faces += len(scene.faces)
        self.found += len(scene.faces) - len(unmatched)
        self.images += 1

    def summary(self) -> dict[str, object]:
        return {
            "recall": round(self.found / self.faces, 3) if self.faces else None,
            "faces": self.faces,
            "false_positives_per_image": round(self.false_positives / self.images, 3),
            "ms_per_image": round(float(np.median(self.wall_ms)), 1),
            "cpu_ms_per_image": round(float(np.median(self.cpu_ms)), 1),
            "recall_by_face_side": {
                side: round(found / total, 2)
                for side, (found, total) in sorted(self.by_side.items())
            },
        }


def _timed(finder: FaceFinder, image: np.ndarray, repeats: int) -> tuple[list, float, float]:
    best_wall, best_cpu, faces = float("inf"), float("inf"), []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        faces = finder.find(image)
        best_wall = min(best_wall, (time.perf_counter() - wall) * 1000)
        best_cpu = min(best_cpu, (time.process_time() - cpu) * 1000)
    return [f.bbox for f in faces], best_wall, best_cpu


def _finders(args: argparse.Namespace) -> dict[str, FaceFinder]:
    from detection.core.mtcnn import MTCNN_STAGE_THRESHOLDS, MtcnnFinder

    finders: dict[str, FaceFinder] = {"mtcnn": MtcnnFinder()}
    for variant in args.mtcnn:
        max_side, min_face, factor, *onet = variant.split(":")
        pnet, rnet, onet_default = MTCNN_STAGE_THRESHOLDS
        finders[f"mtcnn {variant}"] = MtcnnFinder(
            max_side=int(max_side),
            min_face=int(min_face),
            scale_factor=float(factor),
            thresholds=(pnet, rnet, float(onet[0]) if onet else onet_default),
        )
    if args.yunet_model:
        finders["yunet"] = YunetFinder(args.yunet_model)
    finders["haar"] = CascadeFinder()
    return finders


def run(args: argparse.Namespace) -> dict[str, object]:
    torch.set_num_threads(args.threads)
    finders = _finders(args)
    scenes = [*photo_scenes(), *generated_scenes(args.scenes)]
    for finder in finders.values():
        finder.find(scenes[0].image)  # warm-up: lazy allocations
    tallies = {name: Tally() for name in finders}
    photo_1024: dict[str, dict[str, float]] = {}
    load_before = os.getloadavg()[0]
    for scene in scenes:
        for name, finder in finders.items():
            boxes, wall, cpu = _timed(finder, scene.image, args.repeats)
            tallies[name].add(scene, boxes)
            tallies[name].wall_ms.append(wall)
            tallies[name].cpu_ms.append(cpu)
            if scene.name == "astronaut-1024":
                photo_1024[name] = {"wall": round(wall, 1), "cpu": round(cpu, 1)}
    return {
        "images": len(scenes),
        "generated_scenes": args.scenes,
        "torch_threads": args.threads,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "astronaut_1024_ms": photo_1024,
        "finders": {name: tally.summary() for name, tally in tallies.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=40, help="generated scenes (3 faces each)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--yunet-model", help="YuNet ONNX file (none ships with Debian)")
    parser.add_argument(
        "--mtcnn",
        action="append",
        default=[],
        metavar="MAX_SIDE:MIN_FACE:FACTOR[:ONET_THRESHOLD]",
        help="also run MTCNN with these settings (repeatable)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['images']} images, torch threads {result['torch_threads']}, "
        f"load average {result['load_average']}"
    )
    print(f"{'finder':<24} {'recall':>7} {'FP/img':>7} {'ms/img':>7} {'cpu ms':>7}  recall by side")
    finders: dict[str, dict[str, object]] = result["finders"]  # type: ignore[assignment]
    for name, row in finders.items():
        print(
            f"{name:<24} {row['recall']:>7} {row['false_positives_per_image']:>7} "
            f"{row['ms_per_image']:>7} {row['cpu_ms_per_image']:>7}  {row['recall_by_face_side']}"
        )
    print(f"astronaut at 1024 px, ms: {result['astronaut_1024_ms']}")


if __name__ == "__main__":
    main()
