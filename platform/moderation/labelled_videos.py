"""Labelled videos for fitting and measuring the video-level calibration (evaluation code: never
imported on the inference path).

Real videos are camera moves over permitted stills (`factcheck.evaluation.videocases.pan_zoom`),
some cut to a second still or to a procedural scene of moving shapes. Manipulated videos show a
still edited by the detectors' self-supervised generator (`detection.training.synth.manipulate`:
splices, self-blends, copy-move, inpainting, recolouring; the synth has no face-specific edit)
during a span of the video and the untouched still outside it, under the same camera move: the
edit moves with the picture, consistent from frame to frame, like a doctored stretch. Some are
manipulated from start to end. Each video is encoded as H.264 (as an upload is), a share of them
after a downscale, and labelled by what its frames show: the span is where the edited pixels
are in view (at least MIN_FAKE_FRACTION of the frame, the synth's own floor).

Stills come from the detectors' source split (`detection.training.sources`): fit on the
`calibration` split, measure on `test`, never on `train`. Everything is deterministic by seed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detection.core.imaging import bounded_side
from detection.training.sources import load_split
from detection.training.synth import KINDS, MIN_FAKE_FRACTION, manipulate
from factcheck.evaluation.videocases import (
    Scene,
    downscale,
    moving_shapes,
    pan_zoom,
    with_cuts,
    write_video,
)

FRAME_SIZE = (640, 360)  # width, height: a small upload; samples are read at most 512 px wide
FPS = 12.0
DURATION_S = 6.0
# Stills are edited at most this large: inpainting a 1600-px still takes seconds, and the
# camera window (45-80 % of the still) is resampled to FRAME_SIZE anyway.
WORK_SIDE = 960
DOWNSCALE_FACTOR = 0.5
DOWNSCALE_SHARE = 0.3
CRF_CHOICES = (20, 23, 28)
# Of real videos: cut to procedural moving shapes. The frame detectors flag such flat graphics
# (0.9 and more; docs/benchmarks.md): at a third of the real videos they outweighed every other
# signal and the fit ranked videos against their frames' probabilities.
SHAPES_SHARE = 1 / 6
WHOLE_VIDEO_SHARE = 0.3  # of manipulated videos: edited from start to end
SPAN_START_RANGE = (0.1, 0.5)  # of the duration
SPAN_LENGTH_RANGE = (0.3, 0.5)
# Edits that stay out of the camera's view are drawn again, at most this many times.
MAX_EDIT_DRAWS = 12
SPLIT_CODES = {"calibration": 2, "test": 3}


@dataclass(frozen=True)
class LabelledVideo:
    path: Path
    manipulated: bool
    kind: str  # "real_pan", "real_cut", "real_shapes" or the synth's manipulation kind
    span_s: tuple[float, float] | None  # first and last frame time the edit is in view
    whole: bool  # edited from start to end
    source: str  # the still (the group for grouped cross-validation)
    downscaled: bool


def frame_times() -> list[float]:
    return [index / FPS for index in range(round(DURATION_S * FPS))]


def _edit_in_view(edit_mask: np.ndarray, seed: int) -> np.ndarray:
    """Per frame time: the share of the frame showing edited pixels (the mask under the same
    camera move as the still)."""
    mask_scene = pan_zoom(
        np.repeat(edit_mask[..., None] * 255, 3, axis=2).astype(np.uint8),
        size=FRAME_SIZE,
        seed=seed,
        seconds=DURATION_S,
    )
    return np.array([(mask_scene(t)[..., 0] > 127).mean() for t in frame_times()])


def _span(rng: np.random.Generator) -> tuple[float, float, bool]:
    if rng.random() < WHOLE_VIDEO_SHARE:
        return 0.0, DURATION_S, True
    start = rng.uniform(*SPAN_START_RANGE) * DURATION_S
    return start, start + rng.uniform(*SPAN_LENGTH_RANGE) * DURATION_S, False


def _spliced_in_time(clean: Scene, edited: Scene, start: float, end: float) -> Scene:
    def render(time_s: float) -> np.ndarray:
        return edited(time_s) if start <= time_s < end else clean(time_s)

    return render


def _manipulated_scene(
    still: np.ndarray, donor: np.ndarray, rng: np.random.Generator, seed: int
) -> tuple[Scene, str, tuple[float, float], bool]:
    """A camera move over `still`, showing an edited copy of it during a span."""
    for _ in range(MAX_EDIT_DRAWS):
        kind = str(rng.choice(KINDS))
        sample = manipulate(still, donor, rng, kind)  # a splice resizes its donor
        start, end, whole = _span(rng)
        times = np.array(frame_times())
        in_span = (times >= start) & (times < end)
        shown = in_span & (_edit_in_view(sample.mask, seed) >= MIN_FAKE_FRACTION)
        if shown.any():
            clean = pan_zoom(still, size=FRAME_SIZE, seed=seed, seconds=DURATION_S)
            edited = pan_zoom(sample.image, size=FRAME_SIZE, seed=seed, seconds=DURATION_S)
            span = (float(times[shown][0]), float(times[shown][-1]))
            return _spliced_in_time(clean, edited, start, end), kind, span, whole
    raise RuntimeError(f"no edit came into view in {MAX_EDIT_DRAWS} draws (seed {seed})")


def _real_scene(
    still: np.ndarray, other: np.ndarray, rng: np.random.Generator, seed: int
) -> tuple[Scene, str]:
    draw = rng.random()
    if draw < (1 - SHAPES_SHARE) / 2:
        return pan_zoom(still, size=FRAME_SIZE, seed=seed, seconds=DURATION_S), "real_pan"
    cut = float(rng.uniform(0.35, 0.65)) * DURATION_S
    first = pan_zoom(still, size=FRAME_SIZE, seed=seed, seconds=cut)
    if draw < 1 - SHAPES_SHARE:
        second = pan_zoom(other, size=FRAME_SIZE, seed=seed + 1, seconds=DURATION_S - cut)
        scene, _ = with_cuts([(cut, first), (DURATION_S - cut, second)])
        return scene, "real_cut"
    shapes = moving_shapes(size=FRAME_SIZE, seed=seed + 1)
    scene, _ = with_cuts([(cut, first), (DURATION_S - cut, shapes)])
    return scene, "real_shapes"


def _frames(scene: Scene, transform: Callable[[np.ndarray], np.ndarray] | None) -> Iterator:
    for time_s in frame_times():
        image = scene(time_s)
        yield transform(image) if transform is not None else image


def labelled_videos(
    split: str, *, count: int, seed: int, split_seed: int, directory: Path
) -> list[LabelledVideo]:
    """`count` labelled H.264 videos (half manipulated) over the `split` split's stills,
    written to `directory`."""
    if split not in SPLIT_CODES:
        raise ValueError(f"labelled videos come from the calibration or test split, not {split}")
    named = [
        (name, bounded_side(image, WORK_SIDE)) for name, image in load_split(split, split_seed)
    ]
    if len(named) < 2:
        raise ValueError(f"the {split} split has fewer than two usable stills")
    directory.mkdir(parents=True, exist_ok=True)
    videos = []
    for index in range(count):
        video_seed = zlib.crc32(f"{seed}:{split}:{index}".encode())
        rng = np.random.default_rng(video_seed)
        first, second = rng.choice(len(named), 2, replace=False)
        (source, still), (_, other) = named[first], named[second]
        manipulated = index % 2 == 1
        span: tuple[float, float] | None = None
        whole = False
        if manipulated:
            scene, kind, span, whole = _manipulated_scene(still, other, rng, video_seed)
        else:
            scene, kind = _real_scene(still, other, rng, video_seed)
        downscaled = bool(rng.random() < DOWNSCALE_SHARE)
        path = directory / f"{split}-{seed}-{index:04d}.mp4"
        write_video(
            path,
            _frames(scene, downscale(DOWNSCALE_FACTOR) if downscaled else None),
            fps=FPS,
            crf=int(rng.choice(CRF_CHOICES)),
        )
        videos.append(LabelledVideo(path, manipulated, kind, span, whole, source, downscaled))
    return videos
