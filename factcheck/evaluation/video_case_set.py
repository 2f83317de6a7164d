"""A video case set on disk, with its ground truth (`manage.py generate_video_cases`).

References are pans and zooms over two permitted stills of one split with a cut between them,
then a shot of procedural moving shapes (`videocases`). Each gets every copy kind of
`COPY_KINDS` (re-encodes, trims, scale, crop, mirror, caption, speed changes, a re-cut) and
edited copies: a block pasted over a stretch of time (`EDIT_KINDS`), on their own and after a
transform. Unrelated queries are pans over stills of neither split. Thresholds and choices are made
on `--split tune`; `--split test` is run once per candidate, as for images.

Layout: `references/<id>.mp4`, `queries/<id>.mp4`, `cases.json` with, per query, its kind, the
reference id (null for unrelated ones), the reference time at query time 0 (`offset_s`), the
speed, and for edited ones the changed span (query seconds) and the changed box (query pixels).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from factcheck.evaluation import videocases as vc

SIZE = (224, 160)
FPS = 10.0
SHOT_S = 3.0
SHAPES_S = 2.0
# Stills of neither split: no reference shows them.
UNRELATED_STILLS = ("brick", "grass", "gravel", "cell", "logo")
CASES_FILE = "cases.json"
EDIT_COLOUR = (235, 40, 40)


@dataclass(frozen=True)
class CopyKind:
    name: str
    time_map: Callable[[float], vc.TimeMap]  # from the reference's length
    transform: vc.PixelTransform | None
    offset_s: float  # the reference time shown at query time 0
    speed: float = 1.0


COPY_KINDS = (
    CopyKind("re-encode", vc.identity_map, None, 0.0),
    CopyKind("trim", lambda seconds: vc.trim_map(1.7, seconds - 3.0), None, 1.7),
    CopyKind("downscale 50%", vc.identity_map, vc.downscale(0.5), 0.0),
    CopyKind("crop 80%", vc.identity_map, vc.crop(0.8), 0.0),
    CopyKind("mirror", vc.identity_map, vc.mirror, 0.0),
    CopyKind("caption", vc.identity_map, vc.caption(), 0.0),
    CopyKind("speed 0.92", lambda seconds: vc.speed_map(0.92, seconds), None, 0.0, 0.92),
    CopyKind("speed 1.08", lambda seconds: vc.speed_map(1.08, seconds), None, 0.0, 1.08),
    CopyKind("re-cut", lambda seconds: vc.recut_map((3.5, 2.5), (0.3, 2.5)), None, 3.5),
)
# Edited copies: a block pasted over query seconds 2-5 (kind, transform before the paste).
EDIT_KINDS = (
    ("edited", None),
    ("edited + downscale 75%", vc.downscale(0.75)),
    ("edited + mirror", vc.mirror),
)
EDIT_SPAN_S = (2.0, 5.0)


def split_stills(split: str) -> tuple[tuple[str, ...], int]:
    if split not in ("tune", "test"):
        raise ValueError(f"unknown split {split!r} (tune or test)")
    if split == "tune":
        return vc.TUNE_STILLS, vc.TUNE_SEED_BASE
    return vc.TEST_STILLS, vc.TEST_SEED_BASE


def reference_scene(stills: tuple[str, str], seed: int) -> tuple[vc.Scene, float]:
    shots = [
        (SHOT_S, vc.pan_zoom(vc.load_still(name), size=SIZE, seed=seed + i, seconds=SHOT_S))
        for i, name in enumerate(stills)
    ]
    return vc.with_cuts([*shots, (SHAPES_S, vc.moving_shapes(size=SIZE, seed=seed))])


def edit_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The pasted block in a query frame: (x, y, w, h), a quarter of each side."""
    return width // 2, height // 4, width // 4, height // 4


def _pasted(images: Iterator[np.ndarray], span: tuple[float, float]) -> Iterator[np.ndarray]:
    for index, image in enumerate(images):
        if span[0] <= index / FPS < span[1]:
            image = image.copy()
            x, y, w, h = edit_box(image.shape[1], image.shape[0])
            image[y : y + h, x : x + w] = EDIT_COLOUR
        yield image


def _frame_size(transform: vc.PixelTransform | None) -> tuple[int, int]:
    probe = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    shaped = transform(probe) if transform is not None else probe
    height, width = shaped.shape[:2]
    return width // 2 * 2, height // 2 * 2  # write_video keeps even sides


def generate_video_cases(out_dir: Path, *, split: str, references: int) -> dict[str, Any]:
    """Write the case set; returns what cases.json holds."""
    stills, seed_base = split_stills(split)
    pairs = list(itertools.combinations(stills, 2))[:references]
    (out_dir / "references").mkdir(parents=True, exist_ok=True)
    (out_dir / "queries").mkdir(parents=True, exist_ok=True)
    cases: list[dict[str, Any]] = []
    for index, pair in enumerate(pairs):
        scene, seconds = reference_scene(pair, seed_base + 100 * index)
        reference_id = f"ref{index:03d}"
        vc.write_video(
            out_dir / "references" / f"{reference_id}.mp4",
            vc.render(scene, vc.identity_map(seconds), fps=FPS),
            fps=FPS,
        )
        for number, kind in enumerate(COPY_KINDS):
            query_id = f"{reference_id}-c{number}"
            images = vc.render(scene, kind.time_map(seconds), fps=FPS, transform=kind.transform)
            vc.write_video(
                out_dir / "queries" / f"{query_id}.mp4",
                images,
                fps=FPS,
                crf=30 if number % 2 else 23,
            )
            cases.append(
                {
                    "query": query_id,
                    "kind": kind.name,
                    "reference": reference_id,
                    "offset_s": kind.offset_s,
                    "speed": kind.speed,
                    "edited_span_s": None,
                    "edited_box": None,
                }
            )
        for number, (name, transform) in enumerate(EDIT_KINDS):
            query_id = f"{reference_id}-e{number}"
            images = vc.render(scene, vc.identity_map(seconds), fps=FPS, transform=transform)
            vc.write_video(
                out_dir / "queries" / f"{query_id}.mp4", _pasted(images, EDIT_SPAN_S), fps=FPS
            )
            cases.append(
                {
                    "query": query_id,
                    "kind": name,
                    "reference": reference_id,
                    "offset_s": 0.0,
                    "speed": 1.0,
                    "edited_span_s": list(EDIT_SPAN_S),
                    "edited_box": list(edit_box(*_frame_size(transform))),
                }
            )
    for index, pair in enumerate(itertools.combinations(UNRELATED_STILLS, 2)):
        scene, seconds = reference_scene(pair, seed_base + 5_000 + 100 * index)
        query_id = f"unrelated{index:02d}"
        vc.write_video(
            out_dir / "queries" / f"{query_id}.mp4",
            vc.render(scene, vc.identity_map(seconds), fps=FPS),
            fps=FPS,
        )
        cases.append(
            {
                "query": query_id,
                "kind": "unrelated",
                "reference": None,
                "offset_s": None,
                "speed": None,
                "edited_span_s": None,
                "edited_box": None,
            }
        )
    meta = {"split": split, "references": len(pairs), "fps": FPS, "cases": cases}
    (out_dir / CASES_FILE).write_text(json.dumps(meta, indent=1))
    return meta
