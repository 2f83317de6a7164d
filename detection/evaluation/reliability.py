"""Reliability diagram as a PNG, drawn with Pillow (matplotlib is not a dependency): per
probability bin, the fraction of manipulated images (bar) against the diagonal of perfect
calibration, with each bin's image count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

SIZE = 480  # px, square
MARGIN = 56  # px around the plot for axis labels
BAR_COLOUR = (52, 101, 164)
GAP_COLOUR = (204, 0, 0)
AXIS_COLOUR = (40, 40, 40)
DIAGONAL_COLOUR = (150, 150, 150)


def write_reliability_png(bins: list[dict[str, Any]], path: Path | str, title: str) -> Path:
    """bins: probability_metrics()["reliability"]. Returns the path written."""
    image = Image.new("RGB", (SIZE, SIZE), "white")
    draw = ImageDraw.Draw(image)
    side = SIZE - 2 * MARGIN

    def point(x: float, y: float) -> tuple[float, float]:
        return MARGIN + x * side, SIZE - MARGIN - y * side

    for b in bins:
        left, top = point(b["lower"], b["fraction_manipulated"])
        right, bottom = point(b["upper"], 0.0)
        draw.rectangle((left + 2, top, right - 2, bottom), fill=BAR_COLOUR)
        # The gap between the bin's mean probability and what was observed.
        mean_x, mean_y = point((b["lower"] + b["upper"]) / 2, b["mean_probability"])
        draw.line((mean_x, mean_y, mean_x, top), fill=GAP_COLOUR, width=3)
        draw.text((left + 4, bottom + 4), str(b["count"]), fill=AXIS_COLOUR)
    draw.line((*point(0, 0), *point(1, 1)), fill=DIAGONAL_COLOUR, width=1)
    draw.rectangle((*point(0, 1), *point(1, 0)), outline=AXIS_COLOUR)
    for tick in (0.0, 0.5, 1.0):
        x, y = point(tick, 0)
        draw.text((x - 8, y + 18), f"{tick:.1f}", fill=AXIS_COLOUR)
        x, y = point(0, tick)
        draw.text((x - 30, y - 6), f"{tick:.1f}", fill=AXIS_COLOUR)
    draw.text((MARGIN, 16), title, fill=AXIS_COLOUR)
    draw.text((MARGIN, SIZE - 22), "predicted probability (bar labels: images)", fill=AXIS_COLOUR)
    draw.text((4, MARGIN - 20), "fraction manipulated", fill=AXIS_COLOUR)
    path = Path(path)
    image.save(path, format="PNG")
    return path
