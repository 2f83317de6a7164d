"""A reference video and an edited repost of it, generated and encoded for tests (the `videos`
fixture of tests/conftest.py): an 8 s 320x240 10 fps H.264 original (a pan over chelsea, then
coffee from 6.5 s) and a repost trimmed by 1 s, 6 s long, downscaled to 75 %, with a red block
pasted over 3-5 s of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from factcheck.evaluation import videocases as vc

FPS = 10
SIZE = (320, 240)
SECONDS = 8.0
PASTE_FROM_S, PASTE_TO_S = 3.0, 5.0  # copy time
TRIM_S = 1.0


def _scene() -> vc.Scene:
    scene, _ = vc.with_cuts(
        [
            (6.5, vc.pan_zoom(vc.load_still("chelsea"), size=SIZE, seed=7, seconds=6.5)),
            (1.5, vc.pan_zoom(vc.load_still("coffee"), size=SIZE, seed=8, seconds=1.5)),
        ]
    )
    return scene


def videos_write(folder: Path) -> dict[str, bytes]:
    scene = _scene()
    original = vc.write_video(
        folder / "original.mp4", vc.render(scene, vc.identity_map(SECONDS), fps=FPS), fps=FPS
    )
    time_map = vc.trim_map(TRIM_S, SECONDS - TRIM_S - 1.0)

    def pasted(images: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for index, image in enumerate(images):
            image = vc.downscale(0.75)(image)
            if PASTE_FROM_S <= index / FPS < PASTE_TO_S:
                image = image.copy()
                image[30:90, 120:200] = (240, 20, 20)
            yield image

    copy = vc.write_video(
        folder / "repost.mp4", pasted(vc.render(scene, time_map, fps=FPS)), fps=FPS
    )
    return {"original": original.read_bytes(), "repost": copy.read_bytes()}
