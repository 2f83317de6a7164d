"""Generated text cards for measuring and testing text in the image (detection.core.text_in_image):
lines of known text drawn in installed fonts, sizes and colours on plain colours or photos from
the permitted folders, the way captions, memes and screenshots put text on pictures.

Evaluation material: never imported by the inference path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# TrueType fonts of Debian packages the project installs (fonts-dejavu-core; Quicksand comes
# with the desktop packages): sans, serif, monospace and a rounded display face.
FONT_FILES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    Path("/usr/share/fonts/truetype/quicksand/Quicksand-Bold.ttf"),
)
# Photos the project may measure on (mate-backgrounds): busy textures behind the text.
PHOTO_FILES = (
    Path("/usr/share/backgrounds/mate/nature/Garden.jpg"),
    Path("/usr/share/backgrounds/mate/nature/LadyBird.jpg"),
    Path("/usr/share/backgrounds/mate/nature/Storm.jpg"),
    Path("/usr/share/backgrounds/mate/nature/Wood.jpg"),
)
# Claims of the kind fact-checkers rate, as captions put on pictures.
CLAIM_LINES = (
    "Drinking hot water cures the flu",
    "The bridge collapsed this morning",
    "Vaccines contain tracking microchips",
    "Election ballots were found in a river",
    "The mayor banned cars from the city centre",
    "Sharks were seen swimming on the highway",
    "Scientists confirm the moon is hollow",
    "Prices will double from next Monday",
    "This photo shows the flood in 2024",
    "Schools close for three weeks in March",
)


@dataclass(frozen=True)
class TextCard:
    image: np.ndarray  # RGB uint8
    lines: tuple[str, ...]  # the text drawn, top to bottom
    font: str  # the font file's stem
    size: int  # pixels
    background: str  # "plain" or the photo's stem


def available_fonts() -> list[Path]:
    return [path for path in FONT_FILES if path.is_file()]


def available_photos() -> list[Path]:
    return [path for path in PHOTO_FILES if path.is_file()]


def wrapped(lines: Sequence[str], measure: Callable[[str], float], room: float) -> list[str]:
    """`lines` broken at spaces so that each fits in `room` (as `measure` gives widths); a word
    longer than the room stays whole on its own line."""
    out: list[str] = []
    for line in lines:
        current = ""
        for word in line.split():
            candidate = f"{current} {word}".strip()
            if current and measure(candidate) > room:
                out.append(current)
                current = word
            else:
                current = candidate
        if current:
            out.append(current)
    return out


def _photo_background(path: Path, width: int, height: int) -> Image.Image:
    with Image.open(path) as photo:
        return photo.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


def text_card(
    lines: Sequence[str],
    *,
    font: Path,
    size: int,
    width: int = 1024,
    height: int = 768,
    colour: tuple[int, int, int] = (20, 20, 20),
    background: tuple[int, int, int] | Path = (250, 250, 250),
) -> TextCard:
    """`lines` drawn from the top left in `font` at `size` px on a plain colour or a photo
    (then with a contrasting outline, as memes are lettered); a line too long for the card is
    wrapped at spaces, and the card's `lines` are the lines as drawn."""
    on_photo = isinstance(background, Path)
    if isinstance(background, Path):
        canvas = _photo_background(background, width, height)
    else:
        canvas = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(canvas)
    typeface = ImageFont.truetype(str(font), size)
    outline = tuple(255 - channel for channel in colour)
    margin = width // 16
    lines = wrapped(lines, lambda text: draw.textlength(text, font=typeface), width - 2 * margin)
    y = height // 8
    for line in lines:
        draw.text(
            (margin, y),
            line,
            font=typeface,
            fill=colour,
            stroke_width=max(1, size // 16) if on_photo else 0,
            stroke_fill=outline if on_photo else None,
        )
        y += round(size * 1.5)
    return TextCard(
        image=np.asarray(canvas, dtype=np.uint8).copy(),
        lines=tuple(lines),
        font=font.stem,
        size=size,
        background=background.stem if isinstance(background, Path) else "plain",
    )
