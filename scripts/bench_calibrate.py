"""Time `manage.py calibrate_detectors` on a generated labelled folder and print its held-out
figures: the folder is made from the calibration split's sources (never used for training) by
the same generator as evaluate_detector (detection.evaluation.evaluate.make_eval_samples: half
manipulated with exact masks, all resized and recompressed), written as real/, fake/, masks/.

    OMP_WAIT_POLICY=PASSIVE nice python scripts/bench_calibrate.py [--count 300] [--seed 1234]

Prints one JSON document: the wall and CPU seconds of the command (a fresh process, as a user
runs it; CPU time depends little on other jobs on a shared machine), the load average and the
calibration's held-out metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_DIR), str(REPO_DIR / "platform")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    from detection.evaluation.evaluate import make_eval_samples
    from detection.evaluation.labelled_folder import write_labelled_folder

    with tempfile.TemporaryDirectory(prefix="bench-calibrate-") as scratch:
        data_dir, output_dir = Path(scratch) / "data", Path(scratch) / "out"
        began = time.perf_counter()
        counts = write_labelled_folder(
            make_eval_samples("calibration", args.seed, args.count), data_dir
        )
        generated_s = time.perf_counter() - began
        load_before = os.getloadavg()[0]
        command = [
            sys.executable,
            "manage.py",
            "calibrate_detectors",
            str(data_dir),
            "--output-dir",
            str(output_dir),
            "--seed",
            str(args.seed),
            "--json",
        ]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        finished = subprocess.run(
            command, cwd=REPO_DIR, capture_output=True, text=True, check=False
        )
        wall_s = time.perf_counter() - began
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if finished.returncode != 0:
            sys.exit(finished.stderr.strip().splitlines()[-1])
        calibration = json.loads(finished.stdout)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    fused = calibration["metrics"]["fused"]
    print(
        json.dumps(
            {
                "images": counts,
                "generation_s": round(generated_s, 1),
                "calibrate_wall_s": round(wall_s, 1),
                "calibrate_cpu_s": round(cpu_s, 1),
                "detectors_s": calibration["fitted_on"]["seconds"],
                "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "fitted_on": {k: v for k, v in calibration["fitted_on"].items() if k != "skipped"},
                "skipped": len(calibration["fitted_on"]["skipped"]),
                "held_out_fused": {k: v for k, v in fused.items() if k != "reliability"},
                "held_out_fused_uncalibrated": calibration["metrics"]["fused_uncalibrated"],
                "held_out_segmentation": calibration["metrics"]["segmentation"],
                "held_out_detectors": {
                    name: {k: found[k] for k in ("method", "auc", "ece", "ece_sampling_floor")}
                    for name, found in calibration["metrics"]["detectors"].items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
