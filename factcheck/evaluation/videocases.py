"""Generated videos for the video matcher's tuning, tests and evaluation.

A scene is a function of time (pans and zooms over permitted scikit-image stills, procedural
moving shapes, with shot cuts between them), so a derived copy can be rendered at any time
mapping (trims, re-cuts, speed changes) and pixel transform (downscale, crop, mirror, caption,
border), then really encoded with PyAV (H.264 or VP9) and decoded again, like a repost.

Sources are split by still: `TUNE_STILLS` set the thresholds, `TEST_STILLS` are evaluated, and
procedural scenes use seeds apart per split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from factcheck.core.video_fingerprint import Frame

Scene = Callable[[float], np.ndarray]
PixelTransform = Callable[[np.ndarray], np.ndarray]

# Each split has stills whose pans hash at PDQ quality 30-60 (colorwheel; retina, moon, clock).
TUNE_STILLS = ("astronaut", "coffee", "rocket", "immunohistochemistry", "colorwheel")
TEST_STILLS = ("chelsea", "camera", "coins", "hubble_deep_field", "retina", "clock", "moon")
TUNE_SEED_BASE = 1_000
TEST_SEED_BASE = 2_000


def load_still(name: str) -> np.ndarray:
    """A permitted scikit-image sample as RGB uint8."""
    from skimage import data

    from mediastore.samples import SKIMAGE_SAMPLES

    if name not in SKIMAGE_SAMPLES:
        raise ValueError(f"{name} is not a permitted sample")
    image = np.asarray(getattr(data, name)())
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def pan_zoom(still: np.ndarray, *, size: tuple[int, int], seed: int, seconds: float) -> Scene:
    """A camera moving over `still`: a window that pans and zooms smoothly over `seconds`."""
    rng = np.random.default_rng(seed)
    height, width = still.shape[:2]
    out_w, out_h = size
    start, end = rng.uniform(0.3, 0.7, 2), rng.uniform(0.3, 0.7, 2)
    zoom_start, zoom_end = rng.uniform(0.45, 0.8, 2)

    def render(time_s: float) -> np.ndarray:
        progress = float(np.clip(time_s / seconds, 0.0, 1.0))
        centre = (start + (end - start) * progress) * (width, height)
        zoom = zoom_start + (zoom_end - zoom_start) * progress
        window_w = zoom * min(width, height * out_w / out_h)
        scale = out_w / window_w
        matrix = np.array(
            [[scale, 0, out_w / 2 - scale * centre[0]], [0, scale, out_h / 2 - scale * centre[1]]]
        )
        return cv2.warpAffine(
            still, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )

    return render


def moving_shapes(*, size: tuple[int, int], seed: int) -> Scene:
    """Procedural scene: a colour gradient with circles and boxes moving on their own paths."""
    rng = np.random.default_rng(seed)
    out_w, out_h = size
    corners = rng.integers(0, 256, (4, 3)).astype(np.float64)
    ys, xs = np.mgrid[0:out_h, 0:out_w] / np.array([out_h, out_w]).reshape(2, 1, 1)
    background = (
        corners[0] * ((1 - ys) * (1 - xs))[..., None]
        + corners[1] * ((1 - ys) * xs)[..., None]
        + corners[2] * (ys * (1 - xs))[..., None]
        + corners[3] * (ys * xs)[..., None]
    ).astype(np.uint8)
    count = int(rng.integers(5, 9))
    origins = rng.uniform(0, 1, (count, 2)) * (out_w, out_h)
    velocities = rng.uniform(-0.25, 0.25, (count, 2)) * (out_w, out_h)
    radii = rng.uniform(0.06, 0.18, count) * min(out_w, out_h)
    colours = rng.integers(0, 256, (count, 3))
    boxes = rng.random(count) < 0.5

    def render(time_s: float) -> np.ndarray:
        image = background.copy()
        positions = origins + velocities * time_s
        positions = np.abs((positions % (2 * np.array([out_w, out_h]))) - (out_w, out_h))
        for (x, y), radius, colour, box in zip(positions, radii, colours, boxes, strict=True):
            colour_tuple = tuple(int(c) for c in colour)
            r = int(radius)
            if box:
                cv2.rectangle(
                    image, (int(x) - r, int(y) - r), (int(x) + r, int(y) + r), colour_tuple, -1
                )
            else:
                cv2.circle(image, (int(x), int(y)), r, colour_tuple, -1, cv2.LINE_AA)
        return np.asarray(image)

    return render


def with_cuts(shots: Sequence[tuple[float, Scene]]) -> tuple[Scene, float]:
    """Shots played one after another (each (seconds, scene), scene time restarting at 0) and
    the total length."""
    starts = np.cumsum([0.0] + [seconds for seconds, _ in shots])

    def render(time_s: float) -> np.ndarray:
        shot = int(np.clip(np.searchsorted(starts, time_s, side="right") - 1, 0, len(shots) - 1))
        return shots[shot][1](time_s - float(starts[shot]))

    return render, float(starts[-1])


@dataclass(frozen=True)
class TimeMap:
    """Which scene time each copy frame shows: pieces (copy_start_s, copy_end_s, scene_start_s)
    played at `speed` scene seconds per copy second."""

    pieces: tuple[tuple[float, float, float], ...]
    speed: float = 1.0

    @property
    def duration_s(self) -> float:
        return self.pieces[-1][1]

    def scene_time(self, copy_time_s: float) -> float:
        for start, end, scene_start in self.pieces:
            if copy_time_s < end or (start, end, scene_start) == self.pieces[-1]:
                return scene_start + (copy_time_s - start) * self.speed
        raise AssertionError("unreachable")


def identity_map(seconds: float) -> TimeMap:
    return TimeMap(((0.0, seconds, 0.0),))


def trim_map(start_s: float, seconds: float) -> TimeMap:
    return TimeMap(((0.0, seconds, start_s),))


def speed_map(speed: float, scene_seconds: float) -> TimeMap:
    return TimeMap(((0.0, scene_seconds / speed, 0.0),), speed)


def recut_map(first: tuple[float, float], second: tuple[float, float]) -> TimeMap:
    """Two pieces (scene_start_s, seconds) joined: the second plays right after the first."""
    return TimeMap(((0.0, first[1], first[0]), (first[1], first[1] + second[1], second[0])))


def downscale(factor: float) -> PixelTransform:
    def apply(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        size = (max(16, round(w * factor) // 2 * 2), max(16, round(h * factor) // 2 * 2))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    return apply


def crop(fraction: float) -> PixelTransform:
    """The centred `fraction` of each side, scaled back to the original size."""

    def apply(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        top, left = round(h * (1 - fraction) / 2), round(w * (1 - fraction) / 2)
        inner = image[top : h - top, left : w - left]
        return cv2.resize(inner, (w, h), interpolation=cv2.INTER_LINEAR)

    return apply


def mirror(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def caption(text: str = "SHOCKING footage!!") -> PixelTransform:
    """A meme layout: a white band with text added above the picture (18 % of the new height),
    the whole scaled back to the original frame size."""

    def apply(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        band = max(8, round(h * 0.22))
        out = cv2.copyMakeBorder(image, band, 0, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        scale = band / 40
        cv2.putText(out, text, (4, int(band * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1)
        return cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)

    return apply


def border(fraction: float = 0.08) -> PixelTransform:
    def apply(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        pad_y, pad_x = round(h * fraction), round(w * fraction)
        padded = cv2.copyMakeBorder(
            image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=(0, 0, 0)
        )
        return cv2.resize(padded, (w, h), interpolation=cv2.INTER_AREA)

    return apply


def compose(*transforms: PixelTransform) -> PixelTransform:
    def apply(image: np.ndarray) -> np.ndarray:
        for transform in transforms:
            image = transform(image)
        return image

    return apply


def render(
    scene: Scene,
    time_map: TimeMap,
    *,
    fps: float,
    transform: PixelTransform | None = None,
) -> Iterator[np.ndarray]:
    """The copy's frames at `fps`."""
    for index in range(round(time_map.duration_s * fps)):
        image = scene(time_map.scene_time(index / fps))
        yield transform(image) if transform is not None else image


def write_video(
    path: Path, images: Iterator[np.ndarray], *, fps: float, codec: str = "libx264", crf: int = 23
) -> Path:
    """Encode RGB frames into a real video file (H.264 in MP4 or VP9 in WebM)."""
    rate = Fraction(fps).limit_denominator(1000)
    options: dict[str, Any] = (
        {"crf": str(crf), "preset": "veryfast"}
        if codec == "libx264"
        else {"crf": str(crf + 10), "b": "0", "deadline": "realtime", "cpu-used": "8"}
    )
    with av.open(str(path), "w") as container:
        stream: Any = container.add_stream(codec, rate=rate, options=options)
        stream.pix_fmt = "yuv420p"
        for position, image in enumerate(images):
            even = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]
            if position == 0:
                stream.height, stream.width = even.shape[:2]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def read_frames(path: Path) -> Iterator[Frame]:
    """Decode every frame of a trusted generated file (the product reads through mediastore)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(0)
        for index, frame in enumerate(container.decode(stream)):
            time_s = float(frame.pts * time_base) if frame.pts is not None else 0.0
            yield Frame(time_s=time_s, index=index, rgb=frame.to_ndarray(format="rgb24"))
