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


def displayed_turned_clockwise(mp4: bytes) -> bytes:
    """The MP4 (as PyAV writes it: one track, a version 0 `tkhd`) with the display matrix a
    phone writes for a portrait recording: players turn the coded frames a quarter clockwise."""
    import struct

    at = mp4.find(b"tkhd")
    assert at > 0 and mp4[at + 4] == 0, "a version 0 track header"
    # After the box type: version/flags, two times, track id, reserved, duration, 8 reserved
    # bytes, layer, group, volume, reserved; then the 3x3 matrix (16.16, u/v/w 2.30).
    matrix_at = at + 4 + 40
    height = struct.unpack(">I", mp4[matrix_at + 40 : matrix_at + 44])[0]  # 16.16 pixels
    matrix = struct.pack(">9i", 0, 1 << 16, 0, -(1 << 16), 0, 0, height, 0, 1 << 30)
    return mp4[:matrix_at] + matrix + mp4[matrix_at + 36 :]
