"""Side by side: Provenant's vPDQ-format frame hashing and the `vpdq` reference implementation.

Generates one H.264 clip (a pan and zoom over a permitted still, 1280x720, 30 fps by default),
hashes every frame with both in one run, and prints frames/s of each (file to hashes: decoding
included, as `vpdq.computeHash` does it), their ratio, and how well the hashes agree frame by
frame (Hamming distance, quality).

`vpdq` (PyPI sdist, built against FFmpeg's development libraries) is not a Provenant
dependency: it runs in its own interpreter, given by --vpdq-python, e.g. a scratch venv:

    python3 -m venv /tmp/vpdqenv && /tmp/vpdqenv/bin/pip install vpdq
    python scripts/bench_vpdq.py --vpdq-python /tmp/vpdqenv/bin/python [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from factcheck.core.video_fingerprint import HASH_THREADS, video_fingerprint
from factcheck.core.vpdq_format import pdq_from_hex
from factcheck.evaluation import videocases as vc

VPDQ_PROBE = """
import json, sys, time
import vpdq
path, threads = sys.argv[1], int(sys.argv[2])
started = time.perf_counter()
features = vpdq.computeHash(path, seconds_per_hash=0, thread_count=threads)
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "features": [
    [f.frame_number, f.quality, f.hex, f.timestamp] for f in features]}))
"""
# Facebook's PDQ near-duplicate threshold, the vPDQ comparison's default.
AGREEMENT_DISTANCE = 31


def _clip(path: Path, seconds: float, fps: float, size: tuple[int, int]) -> Path:
    scene = vc.pan_zoom(vc.load_still("chelsea"), size=size, seed=0, seconds=seconds)
    images = vc.render(scene, vc.identity_map(seconds), fps=fps)
    return vc.write_video(path, images, fps=fps, crf=23)


def _vpdq(python: str, path: Path, threads: int) -> dict[str, object]:
    output = subprocess.run(
        [python, "-c", VPDQ_PROBE, str(path), str(threads)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    result: dict[str, object] = json.loads(output.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vpdq-python", required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = _clip(
            Path(directory) / "clip.mp4",
            arguments.seconds,
            arguments.fps,
            (arguments.width, arguments.height),
        )
        started = time.perf_counter()
        ours = video_fingerprint(vc.read_frames(path)).frames
        ours_seconds = time.perf_counter() - started
        theirs = {threads: _vpdq(arguments.vpdq_python, path, threads) for threads in (1, 0)}
    frames = len(ours)
    print(f"clip: {arguments.width}x{arguments.height}, {arguments.fps:g} fps, {frames} frames")
    print(
        f"provenant (decode + PDQ, {HASH_THREADS} hashing threads): "
        f"{frames / ours_seconds:.1f} frames/s"
    )
    for threads, result in theirs.items():
        seconds = float(result["seconds"])  # type: ignore[arg-type]
        label = "auto threads" if threads == 0 else f"{threads} thread"
        print(
            f"vpdq ({label}): {frames / seconds:.1f} frames/s, "
            f"{ours_seconds / seconds:.2f}x provenant's speed"
        )
    features = theirs[0]["features"]
    assert isinstance(features, list)
    by_frame = {int(number): (int(quality), hex_hash) for number, quality, hex_hash, _ in features}
    distances, quality_gaps = [], []
    for row, number in enumerate(ours.frame_numbers.tolist()):
        if number in by_frame:
            quality, hex_hash = by_frame[number]
            bits = np.bitwise_xor(ours.hashes[row], pdq_from_hex(hex_hash))
            distances.append(int(np.bitwise_count(bits).sum()))
            quality_gaps.append(abs(int(ours.qualities[row]) - quality))
    share = np.mean(np.array(distances) <= AGREEMENT_DISTANCE)
    print(
        f"agreement over {len(distances)} frames: Hamming median {np.median(distances):.0f}, "
        f"p95 {np.percentile(distances, 95):.0f}, max {max(distances)}, "
        f"<= {AGREEMENT_DISTANCE}: {share:.3f}; quality gap median {np.median(quality_gaps):.0f}"
    )


if __name__ == "__main__":
    main()
