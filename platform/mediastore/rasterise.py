"""SVG rasterisation for the permitted image sources (Debian's librsvg2-bin `rsvg-convert`).

One home for it: detection's training sources and fact-check's evaluation sources both read
gnome-backgrounds' SVG wallpapers through it. Plain Python without Django.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

SVG_RENDERER = "rsvg-convert"  # Debian librsvg2-bin (`make system-packages`)
# A wallpaper SVG is small; a renderer that takes longer than this is stuck, not busy.
SVG_RENDER_TIMEOUT_S = 60


def render_svg(path: Path, max_side: int) -> np.ndarray:
    """BGR or BGRA raster (OpenCV's channel order) of an SVG that fits max_side, aspect kept.

    Raises ValueError when the renderer is missing, fails, times out or writes no image.
    """
    try:
        rendered = subprocess.run(
            [SVG_RENDERER, "-w", str(max_side), "-h", str(max_side), "-a", str(path)],
            capture_output=True,
            check=True,
            timeout=SVG_RENDER_TIMEOUT_S,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise ValueError(f"cannot render {path}: {error}") from None
    image = cv2.imdecode(np.frombuffer(rendered, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot decode the rendering of {path}")
    return image
