"""Evaluate the temporal video matcher on generated videos (issue 17).

Builds reference videos from one split's permitted stills (thresholds are set on `tune`,
figures reported on `test`) (two pans per video, every
pair of stills once) and a procedural shapes shot, derives copies (re-encode, trim, downscale
50 %, crop 80 %, mirror, caption, speed 0.92 / 1.08, re-cut) and unrelated videos (pans over
stills no reference uses), encodes and decodes all of them with PyAV, matches every query
against every reference and prints recall@1 per copy kind, the median offset error, false
matches and hashing throughput.

    python scripts/video_match_eval.py [--split tune|test] [--references 20] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from factcheck.core.video_fingerprint import VideoFingerprint, video_fingerprint
from factcheck.core.video_match import VideoAlignment, video_match
from factcheck.evaluation import videocases as vc
from factcheck.evaluation.video_case_set import (
    COPY_KINDS,
    FPS,
    UNRELATED_STILLS,
    reference_scene,
    split_stills,
)


class _Fingerprinter:
    def __init__(self, directory: Path) -> None:
        self.directory, self.count, self.frames, self.seconds = directory, 0, 0, 0.0

    def __call__(
        self, scene: vc.Scene, time_map: vc.TimeMap, transform: vc.PixelTransform | None = None
    ) -> VideoFingerprint:
        self.count += 1
        path = self.directory / f"{self.count}.mp4"
        images = vc.render(scene, time_map, fps=FPS, transform=transform)
        vc.write_video(path, images, fps=FPS, crf=30 if self.count % 2 else 23)
        started = time.perf_counter()
        fingerprint = video_fingerprint(vc.read_frames(path))
        self.seconds += time.perf_counter() - started
        self.frames += len(fingerprint.frames)
        return fingerprint


def _ref_time_at_zero(alignment: VideoAlignment) -> float:
    first = alignment.segments[0]
    return first.ref_start_s - first.speed * first.start_s


def _best(
    query: VideoFingerprint, references: list[VideoFingerprint]
) -> tuple[int, VideoAlignment] | None:
    found = [(i, video_match(query, reference)) for i, reference in enumerate(references)]
    scored = [(i, alignment) for i, alignment in found if alignment is not None]
    return max(scored, key=lambda item: item[1].score, default=None)


def evaluate(reference_count: int, *, split: str, verbose: bool = False) -> dict[str, object]:
    stills, seed_base = split_stills(split)
    pairs = list(itertools.combinations(stills, 2))[:reference_count]
    with tempfile.TemporaryDirectory() as directory:
        fingerprint = _Fingerprinter(Path(directory))
        scenes = [reference_scene(pair, seed_base + 100 * i) for i, pair in enumerate(pairs)]
        references = [fingerprint(scene, vc.identity_map(seconds)) for scene, seconds in scenes]
        hits: dict[str, list[bool]] = {}
        errors: list[float] = []
        match_seconds, matches = 0.0, 0
        for index, (scene, seconds) in enumerate(scenes):
            for copy in COPY_KINDS:
                query = fingerprint(scene, copy.time_map(seconds), copy.transform)
                started = time.perf_counter()
                best = _best(query, references)
                match_seconds += time.perf_counter() - started
                matches += len(references)
                correct = best is not None and best[0] == index
                hits.setdefault(copy.name, []).append(correct)
                error = (
                    abs(_ref_time_at_zero(best[1]) - copy.offset_s)
                    if correct and best is not None
                    else None
                )
                if error is not None:
                    errors.append(error)
                if verbose and (error is None or error > 0.2):
                    print(f"{pairs[index]} {copy.name}: best {best}")
        unrelated_pairs = list(itertools.combinations(UNRELATED_STILLS, 2))
        false_matches = 0
        for i, pair in enumerate(unrelated_pairs):
            scene, seconds = reference_scene(pair, seed_base + 5_000 + 100 * i)
            query = fingerprint(scene, vc.identity_map(seconds))
            false_matches += _best(query, references) is not None
        all_hits = [hit for kind_hits in hits.values() for hit in kind_hits]
        return {
            "split": split,
            "references": len(references),
            "queries": len(all_hits),
            "recall_at_1": float(np.mean(all_hits)),
            "recall_at_1_without_crop": float(
                np.mean([hit for kind, h in hits.items() if kind != "crop 80%" for hit in h])
            ),
            "recall_at_1_by_kind": {kind: float(np.mean(h)) for kind, h in hits.items()},
            "median_offset_error_s": float(np.median(errors)) if errors else None,
            "p95_offset_error_s": float(np.percentile(errors, 95)) if errors else None,
            "unrelated_queries": len(unrelated_pairs),
            "false_matches": false_matches,
            "hashing_frames_per_s": fingerprint.frames / fingerprint.seconds,
            "match_ms_per_pair": 1000 * match_seconds / matches,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=20)
    parser.add_argument("--split", choices=("tune", "test"), default="test")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print each miss")
    arguments = parser.parse_args()
    result = evaluate(arguments.references, split=arguments.split, verbose=arguments.verbose)
    if arguments.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
