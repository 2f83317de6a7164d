"""Global transforms and local edits used to build evaluation cases.

Every operation takes and returns (image, mask) so the ground-truth edit mask always stays in
the query's pixel grid: geometric transforms move the mask with the image, photometric ones
leave it alone, and added borders/caption bands are never marked as edited.
"""

from __future__ import annotations

import string
from collections.abc import Callable

import cv2
import numpy as np

Rng = np.random.Generator
Pair = tuple[np.ndarray, np.ndarray]  # (image, mask)
Transform = Callable[[np.ndarray, np.ndarray, Rng], Pair]
# (image, mask, rng) -> (image, mask, JPEG quality or None for the default)
Chain = Callable[[np.ndarray, np.ndarray, Rng], tuple[np.ndarray, np.ndarray, int | None]]
Edit = Callable[[np.ndarray, Rng, np.ndarray], Pair]  # (image, rng, donor) -> (image, mask)
# Pixels whose colour moved less than this (Lab units) are not counted as edited ground truth:
# recolouring a grey pixel or inpainting a flat patch leaves no visible change to find.
GT_MIN_CHANGE = 8.0


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buffer = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("JPEG decoding failed")
    return decoded[..., ::-1].copy()


def t_resize(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    scale = float(rng.uniform(0.45, 0.85))
    size = (max(32, round(image.shape[1] * scale)), max(32, round(image.shape[0] * scale)))
    return (
        cv2.resize(image, size, interpolation=cv2.INTER_AREA),
        cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST),
    )


def t_jpeg(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    return jpeg(image, int(rng.integers(45, 75))), mask


def t_crop(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    height, width = image.shape[:2]
    keep_h, keep_w = (int(d * rng.uniform(0.6, 0.85)) for d in (height, width))
    y, x = int(rng.integers(0, height - keep_h + 1)), int(rng.integers(0, width - keep_w + 1))
    return image[y : y + keep_h, x : x + keep_w].copy(), mask[y : y + keep_h, x : x + keep_w].copy()


def t_border(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    top, bottom, left, right = (
        int(max(image.shape[:2]) * rng.uniform(0.03, 0.12)) for _ in range(4)
    )
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    return (
        cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=colour),
        cv2.copyMakeBorder(mask, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0),
    )


def random_words(rng: Rng, count: int) -> str:
    letters = string.ascii_letters
    return " ".join(
        "".join(rng.choice(list(letters), int(rng.integers(3, 9)))) for _ in range(count)
    )


def t_caption(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    """A meme/news-style band with text above or below the picture."""
    height, width = image.shape[:2]
    band = int(height * rng.uniform(0.12, 0.25))
    background = (255, 255, 255) if rng.random() < 0.5 else (20, 20, 20)
    text_colour = (0, 0, 0) if background[0] > 128 else (240, 240, 240)
    top = bool(rng.random() < 0.5)
    pad = (band, 0, 0, 0) if top else (0, band, 0, 0)
    out = cv2.copyMakeBorder(image, *pad, cv2.BORDER_CONSTANT, value=background)
    scale = band / 60.0
    baseline = int(band * 0.65) if top else height + int(band * 0.65)
    cv2.putText(
        out,
        random_words(rng, 3),
        (int(width * 0.04), baseline),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        text_colour,
        max(1, int(scale * 2)),
        cv2.LINE_AA,
    )
    return out, cv2.copyMakeBorder(mask, *pad, cv2.BORDER_CONSTANT, value=0)


def t_rotate(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    angle = float(rng.uniform(2, 5) * rng.choice([-1, 1]))
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return (
        cv2.warpAffine(
            image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        ),
        cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_NEAREST),
    )


def t_brightness(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    gain, offset = float(rng.uniform(0.75, 1.3)), float(rng.uniform(-30, 30))
    gamma = float(rng.uniform(0.8, 1.25))
    adjusted = 255 * ((image.astype(np.float32) / 255) ** gamma) * gain + offset
    return np.clip(adjusted, 0, 255).astype(np.uint8), mask


TRANSFORMS: dict[str, Transform] = {
    "resize": t_resize,
    "jpeg": t_jpeg,
    "crop": t_crop,
    "border": t_border,
    "caption": t_caption,
    "rotate": t_rotate,
    "brightness": t_brightness,
}


# Hard-tier transforms (issue 15): the reposts that break local features. Each step takes and
# returns (image, mask) like TRANSFORMS; a chain's final JPEG quality is returned separately so
# the query is written at that quality once, as a platform re-encodes a repost once.
HARD_CROP_KEEP = (0.75, 0.90)  # share of each side kept by a repost's crop
HARD_DOWNSCALE_WIDTH = (400, 700)  # output width of a heavy downscale, pixels
PROBE_SCALE = (0.30, 0.50)  # the independent probe's downscale, share of each side
LOW_JPEG_QUALITY = (30, 45)
COPY_SCALE = (0.35, 0.80)  # a plain resized copy, share of each side
COPY_JPEG_QUALITY = (45, 85)
MASK_THRESHOLD = 128  # a downscaled ground-truth pixel is edited when mostly covered


def t_mirror(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    """Horizontal mirror; the ground truth is mirrored with the picture."""
    return np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(mask[:, ::-1])


def t_crop_keep(
    image: np.ndarray, mask: np.ndarray, rng: Rng, keep: tuple[float, float] = HARD_CROP_KEEP
) -> Pair:
    height, width = image.shape[:2]
    keep_h, keep_w = (max(1, int(d * rng.uniform(*keep))) for d in (height, width))
    y, x = int(rng.integers(0, height - keep_h + 1)), int(rng.integers(0, width - keep_w + 1))
    return image[y : y + keep_h, x : x + keep_w].copy(), mask[y : y + keep_h, x : x + keep_w].copy()


def scale_to(image: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> Pair:
    """Resize to (width, height): area filter for the picture; the mask is area-filtered and
    thresholded, since nearest-neighbour sampling of a heavy downscale drops thin strokes."""
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    coverage = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    return resized, np.where(coverage >= MASK_THRESHOLD, 255, 0).astype(np.uint8)


def t_scale(
    image: np.ndarray, mask: np.ndarray, rng: Rng, scale: tuple[float, float] = PROBE_SCALE
) -> Pair:
    factor = float(rng.uniform(*scale))
    height, width = image.shape[:2]
    return scale_to(image, mask, (max(16, round(width * factor)), max(16, round(height * factor))))


def t_downscale_width(
    image: np.ndarray, mask: np.ndarray, rng: Rng, widths: tuple[int, int] = HARD_DOWNSCALE_WIDTH
) -> Pair:
    """Downscale so the output is `widths` pixels wide (never upscales a narrower image)."""
    height, width = image.shape[:2]
    target = min(width, int(rng.integers(widths[0], widths[1] + 1)))
    return scale_to(image, mask, (target, max(16, round(height * target / width))))


def _chain(*steps: Transform, quality: tuple[int, int] | None) -> Chain:
    def apply(
        image: np.ndarray, mask: np.ndarray, rng: Rng
    ) -> tuple[np.ndarray, np.ndarray, int | None]:
        for step in steps:
            image, mask = step(image, mask, rng)
        return image, mask, int(rng.integers(quality[0], quality[1] + 1)) if quality else None

    return apply


# name -> chain(image, mask, rng) -> (image, mask, JPEG quality or None for the default)
HARD_CHAINS: dict[str, Chain] = {
    "mirror": _chain(t_mirror, quality=None),
    "mirror_crop": _chain(t_mirror, t_crop_keep, quality=None),
    "downscale_jpeg": _chain(t_downscale_width, quality=LOW_JPEG_QUALITY),
    "probe_chain": _chain(t_mirror, t_crop_keep, t_scale, quality=LOW_JPEG_QUALITY),
}


def t_copy_scale(image: np.ndarray, mask: np.ndarray, rng: Rng) -> Pair:
    return t_scale(image, mask, rng, COPY_SCALE)


# A plain resized JPEG copy, as the independent probe's copies (resize 35-80 %, JPEG 45-85).
PLAIN_COPY = _chain(t_copy_scale, quality=COPY_JPEG_QUALITY)


# Near-identical versions of one design (both indexed in the hard tier), and colour grades and
# crops of distractors: (image, rng) -> image.
def v_colour(image: np.ndarray, rng: Rng) -> np.ndarray:
    """A colour variant: hue rotation or a per-channel grade with gamma."""
    if rng.random() < 0.5:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int32)
        hsv[..., 0] = (hsv[..., 0] + int(rng.integers(15, 60))) % 180
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    gains = rng.uniform(0.75, 1.25, 3)
    gamma = float(rng.uniform(0.75, 1.3))
    graded = 255 * ((image.astype(np.float32) / 255) ** gamma) * gains
    return np.clip(graded, 0, 255).astype(np.uint8)


def v_text_logo(image: np.ndarray, rng: Rng) -> np.ndarray:
    """A small text or logo change in a corner (1-3 % of the picture)."""
    out = image.copy()
    height, width = image.shape[:2]
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    right, bottom = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
    margin = int(0.04 * min(height, width))
    if rng.random() < 0.5:
        radius = int(min(height, width) * rng.uniform(0.05, 0.08))
        cx = width - margin - radius if right else margin + radius
        cy = height - margin - radius if bottom else margin + radius
        cv2.circle(out, (cx, cy), radius, colour, -1, cv2.LINE_AA)
        inner = tuple(255 - c for c in colour)
        cv2.circle(out, (cx, cy), radius // 2, inner, max(2, radius // 6), cv2.LINE_AA)
        return out
    scale = float(rng.uniform(0.8, 1.4)) * width / 1024
    thickness = max(2, int(scale * 2))
    words = random_words(rng, 2)
    (text_w, text_h), _ = cv2.getTextSize(words, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = width - margin - text_w if right else margin
    y = height - margin if bottom else margin + text_h
    cv2.putText(out, words, (max(0, x), y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness)
    return out


def v_slight_crop(image: np.ndarray, rng: Rng) -> np.ndarray:
    """The same picture cropped slightly (92-97 % of each side), e.g. another aspect ratio."""
    return t_crop_keep(image, np.zeros(image.shape[:2], np.uint8), rng, (0.92, 0.97))[0]


def v_crop(image: np.ndarray, rng: Rng) -> np.ndarray:
    return t_crop_keep(image, np.zeros(image.shape[:2], np.uint8), rng, (0.8, 0.95))[0]


VARIANTS: dict[str, Callable[[np.ndarray, Rng], np.ndarray]] = {
    "colour": v_colour,
    "text_logo": v_text_logo,
    "slight_crop": v_slight_crop,
}


def _blob_mask(shape: tuple[int, int], rng: Rng, area: tuple[float, float]) -> np.ndarray:
    """Random ellipse or rectangle covering `area` (fraction range) of the image."""
    height, width = shape
    target = rng.uniform(*area) * height * width
    aspect = rng.uniform(0.6, 1.6)
    h = int(np.sqrt(target / aspect))
    w = int(target / max(h, 1))
    h, w = min(h, height - 2), min(w, width - 2)
    y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
    mask = np.zeros(shape, np.uint8)
    if rng.random() < 0.5:
        cv2.ellipse(mask, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
    else:
        mask[y : y + h, x : x + w] = 255
    return mask


def _textured_blob(
    image: np.ndarray, rng: Rng, area: tuple[float, float], tries: int = 8
) -> np.ndarray:
    """The most textured of a few random blobs, so removals and recolours are visible."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = np.abs(cv2.Laplacian(gray, cv2.CV_32F)) + np.abs(gray - gray.mean()) * 0.05
    blobs = [_blob_mask(image.shape[:2], rng, area) for _ in range(tries)]
    return max(blobs, key=lambda blob: float(energy[blob > 0].mean()))


def visible_change(before: np.ndarray, after: np.ndarray, region: np.ndarray) -> np.ndarray:
    lab = [cv2.cvtColor(im.astype(np.float32) / 255, cv2.COLOR_RGB2LAB) for im in (before, after)]
    change = np.sqrt(((lab[0] - lab[1]) ** 2).sum(axis=2))
    changed = ((change > GT_MIN_CHANGE) & (region > 0)).astype(np.uint8) * 255
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    visible: np.ndarray = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, kernel) & region
    return visible


def e_splice(image: np.ndarray, rng: Rng, donor: np.ndarray) -> Pair:
    region = _blob_mask(image.shape[:2], rng, (0.03, 0.12))
    donor = cv2.resize(donor, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)
    shift = rng.integers(-image.shape[0] // 4, image.shape[0] // 4, 2)
    donor = np.roll(donor, tuple(int(s) for s in shift), axis=(0, 1))
    out = np.where(region[..., None] > 0, donor, image)
    return out, visible_change(image, out, region)


def e_removal(image: np.ndarray, rng: Rng, donor: np.ndarray) -> Pair:
    region = _textured_blob(image, rng, (0.02, 0.08))
    out = cv2.inpaint(image, region, 5, cv2.INPAINT_TELEA)
    return out, visible_change(image, out, region)


def e_copy_move(image: np.ndarray, rng: Rng, donor: np.ndarray) -> Pair:
    source = _textured_blob(image, rng, (0.02, 0.08))
    ys, xs = np.nonzero(source)
    height, width = image.shape[:2]
    dy = int(rng.integers(-ys.min(), height - ys.max()))
    dx = int(rng.integers(-xs.min(), width - xs.max()))
    matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    moved = cv2.warpAffine(image, matrix, (width, height))
    region = cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_NEAREST)
    out = np.where(region[..., None] > 0, moved, image)
    return out, visible_change(image, out, region)


def e_recolour(image: np.ndarray, rng: Rng, donor: np.ndarray) -> Pair:
    region = _textured_blob(image, rng, (0.03, 0.12))
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int32)
    hsv[..., 0] = (hsv[..., 0] + int(rng.integers(40, 140))) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.3 + 60, 0, 255)
    recoloured = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    out = np.where(region[..., None] > 0, recoloured, image)
    return out, visible_change(image, out, region)


def e_text(image: np.ndarray, rng: Rng, donor: np.ndarray) -> Pair:
    height, width = image.shape[:2]
    scale = float(rng.uniform(1.0, 2.2)) * width / 1024
    thickness = max(2, int(scale * 2.5))
    words = random_words(rng, int(rng.integers(2, 4)))
    (text_w, text_h), _ = cv2.getTextSize(words, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = int(rng.integers(0, max(1, width - text_w)))
    y = int(rng.integers(text_h + 2, height - 2))
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    out, strokes = image.copy(), np.zeros((height, width), np.uint8)
    cv2.putText(out, words, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    cv2.putText(
        strokes, words, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA
    )
    # Annotators mark the text, not single anti-aliased stroke pixels: grow strokes by their width.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * thickness + 1,) * 2)
    region = cv2.dilate((strokes > 0).astype(np.uint8) * 255, kernel)
    return out, region


EDITS: dict[str, Edit] = {
    "splice": e_splice,
    "removal": e_removal,
    "copy_move": e_copy_move,
    "recolour": e_recolour,
    "text": e_text,
}
EXPECTED_REGION_KIND = {
    "splice": "added",
    "removal": "removed",
    "copy_move": "added",
    "recolour": "altered",
    "text": "text",
}
