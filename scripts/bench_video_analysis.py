"""Wall time of analysing one video with the default settings (issue 17: a 60 s 720p 30 fps
H.264 clip in <= 30 s on the 2-core machine).

    python scripts/bench_video_analysis.py [--seconds 60] [--width 1280] [--height 720] [--fps 30]

Offline and self-contained: a temporary DATA_DIR with its own SQLite database (the embedded
defaults of `make run`). It renders an original (pans and zooms over permitted scikit-image
stills, shot cuts; factcheck.evaluation.videocases), adds it as a reference video, then analyses
a repost of it (trimmed by 2 s, downscaled to 75 %, a block pasted over 10 s of it: an edited
copy) exactly as the `video` task does, then draws its annotated video as the follow-up task
does. Prints JSON: wall times (the analysis, i.e. until the report exists, and the annotated
video), the report's timings by step, the clip's length and the ratio to real time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
STILLS = ("chelsea", "coffee", "astronaut", "rocket")


def django_setup(data_dir: str) -> None:
    os.environ["DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO_DIR,
        env=os.environ.copy(),
        check=True,
    )
    import django

    django.setup()


def clips(folder: Path, args: argparse.Namespace) -> tuple[bytes, bytes]:
    from factcheck.evaluation import videocases as vc

    size = (args.width, args.height)
    shot = args.seconds / len(STILLS)
    scene, _ = vc.with_cuts(
        [
            (shot, vc.pan_zoom(vc.load_still(name), size=size, seed=i, seconds=shot))
            for i, name in enumerate(STILLS)
        ]
    )
    original = vc.write_video(
        folder / "original.mp4",
        vc.render(scene, vc.identity_map(args.seconds + 2.0), fps=args.fps),
        fps=args.fps,
    )

    def pasted(images: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for index, image in enumerate(images):
            image = vc.downscale(0.75)(image)
            if 20.0 <= index / args.fps < 30.0:
                image = image.copy()
                height, width = image.shape[:2]
                image[height // 6 : height // 3, width // 2 : width // 2 + width // 5] = (
                    240,
                    30,
                    30,
                )
            yield image

    repost = vc.write_video(
        folder / "repost.mp4",
        pasted(vc.render(scene, vc.trim_map(2.0, args.seconds), fps=args.fps)),
        fps=args.fps,
    )
    return original.read_bytes(), repost.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-video-") as data_dir:
        django_setup(data_dir)
        from detection import selectors as detection_selectors
        from factcheck.services import reference_add
        from moderation.video_pipeline import video_analyze, video_annotate

        started = time.perf_counter()
        original, repost = clips(Path(data_dir), args)
        generated_s = time.perf_counter() - started
        started = time.perf_counter()
        reference_add(content=original, source="bench", external_id="original")
        reference_s = time.perf_counter() - started
        # A worker serves many videos: its models are loaded before the one measured.
        detection_selectors.image_detection(image=np.zeros((64, 64, 3), np.uint8))
        started = time.perf_counter()
        cpu = time.process_time()
        analysis = video_analyze(content=repost, input_name="repost.mp4")
        wall_s = time.perf_counter() - started
        started = time.perf_counter()
        annotated = video_annotate(content=repost, document=analysis.document)
        annotate_s = time.perf_counter() - started
        document = analysis.document
        match = document["matches"][0] if document["matches"] else {}
        print(
            json.dumps(
                {
                    "clip": f"{args.seconds:g} s {args.width}x{args.height} {args.fps:g} fps "
                    "H.264 (repost at 75 %)",
                    "repost_bytes": len(repost),
                    "generate_s": round(generated_s, 1),
                    "add_reference_s": round(reference_s, 1),
                    "analysis_wall_s": round(wall_s, 1),
                    "analysis_cpu_s": round(time.process_time() - cpu, 1),
                    "times_real_time": round(args.seconds / wall_s, 2),
                    "timings_ms": document["timings_ms"],
                    "frames_analysed": document["media"]["frames_analysed"],
                    "label": document["verdict"]["label"],
                    "offset_s": match.get("offset_s"),
                    "edited_spans": [
                        (s["start_s"], s["end_s"]) for s in match.get("segments", []) if s["edited"]
                    ],
                    "annotated_video_wall_s": round(annotate_s, 1),
                    "annotated_bytes": len(annotated.video),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
