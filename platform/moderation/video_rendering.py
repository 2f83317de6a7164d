"""The annotated result video and the contact sheet of changed spans (issue 17).

What a reviewer or a platform downloads instead of reading the report: the query video with the
judgement burnt in, frame by frame:
- edit regions (the report's `matches[0].segments[*].regions`) outlined and tinted red while their
  span plays;
- face boxes from the sampled detection times, coloured green (looks real) to red (looks
  manipulated), with the probability;
- a banner with the verdict in words and its probability;
- a timeline bar: the whole duration, edited spans in red, the detector probability at each
  sampled time as a trace, and the playhead.

Frames are drawn and encoded one at a time (H.264 in MP4 through PyAV), so a long video never
sits in memory; the output is shrunk to MAX_ANNOTATED_SIDE. `contact_sheet` lays out one
annotated frame per changed span as a PNG-ready grid.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO, Final, Protocol

import av
import cv2
import numpy as np

from moderation.clock import clock
from moderation.rendering import EDIT_COLOR, EDIT_TINT_ALPHA, face_box_draw, line_width

MAX_ANNOTATED_SIDE = 1280  # longer side of the annotated video
ANNOTATED_CODEC: Final = "libx264"
ANNOTATED_PIXEL_FORMAT = "yuv420p"  # what every browser and phone plays
# Quality over size within reason: the video is made once per report and watched by people.
ANNOTATED_CODEC_OPTIONS = {"crf": "23", "preset": "veryfast"}
BANNER_HEIGHT = 0.07  # of the frame height
TIMELINE_HEIGHT = 0.06
TIMELINE_COLOUR = (60, 60, 60)
PLAYHEAD_COLOUR = (255, 255, 255)
TRACE_COLOUR = (255, 200, 0)
MAX_SHEET_TILES = 12
SHEET_COLUMNS = 3
SHEET_TILE_WIDTH = 480


class TimedFrame(Protocol):
    """A decoded frame: its presentation time and RGB pixels (HxWx3 uint8)."""

    @property
    def time_s(self) -> float: ...

    @property
    def rgb(self) -> np.ndarray: ...


@dataclass(frozen=True)
class EditedSpan:
    """A changed span of the query, its regions in query pixels (x, y, w, h)."""

    start_s: float
    end_s: float
    regions: tuple[tuple[float, float, float, float], ...] = ()


@dataclass(frozen=True)
class FaceBox:
    time_s: float
    bbox: tuple[float, float, float, float]
    probability: float | None


@dataclass(frozen=True)
class VideoAnnotations:
    duration_s: float
    verdict_text: str  # the verdict in words, e.g. "Edited copy"
    probability: float | None = None
    spans: tuple[EditedSpan, ...] = ()
    faces: tuple[FaceBox, ...] = ()  # sorted by time
    # (time_s, detector probability) at each sampled time, sorted by time.
    timeline: tuple[tuple[float, float], ...] = ()
    # A face box stays on screen this long around its sampled time.
    face_hold_s: float = 0.5

    def faces_at(self, time_s: float) -> list[FaceBox]:
        def key(face: FaceBox) -> float:
            return face.time_s

        start = bisect.bisect_left(self.faces, time_s - self.face_hold_s, key=key)
        end = bisect.bisect_right(self.faces, time_s + self.face_hold_s, key=key)
        return list(self.faces[start:end])

    def spans_at(self, time_s: float) -> list[EditedSpan]:
        return [span for span in self.spans if span.start_s <= time_s <= span.end_s]


@dataclass
class AnnotatedVideo:
    """What `annotated_video_write` leaves besides the file: a frame per changed span for the
    contact sheet (the annotated frame nearest each span's middle) and the frames written."""

    sheet: list[tuple[float, np.ndarray]] = field(default_factory=list)
    frames: int = 0
    size: tuple[int, int] = (0, 0)  # width, height


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _output_size(width: int, height: int) -> tuple[int, int, float]:
    scale = min(1.0, MAX_ANNOTATED_SIDE / max(width, height))
    return _even(width * scale), _even(height * scale), scale


def _regions_draw(frame: np.ndarray, spans: list[EditedSpan], scale: float) -> None:
    width = line_width(frame.shape)
    tint = np.array(EDIT_COLOR, np.float32)
    for span in spans:
        for x, y, w, h in span.regions:
            x0, y0 = max(0, round(x * scale)), max(0, round(y * scale))
            x1 = min(frame.shape[1], round((x + w) * scale))
            y1 = min(frame.shape[0], round((y + h) * scale))
            if x1 <= x0 or y1 <= y0:
                continue
            inside = frame[y0:y1, x0:x1]
            inside[:] = (inside * (1 - EDIT_TINT_ALPHA) + tint * EDIT_TINT_ALPHA).astype(np.uint8)
            cv2.rectangle(frame, (x0, y0), (x1, y1), EDIT_COLOR, width)


def _text(
    frame: np.ndarray, text: str, origin: tuple[int, int], size: float, colour: tuple
) -> None:
    thickness = max(1, round(size * 2))
    cv2.putText(frame, text, origin, cv2.FONT_HERSHEY_SIMPLEX, size, colour, thickness, cv2.LINE_AA)


def _faces_draw(frame: np.ndarray, faces: list[FaceBox], scale: float) -> None:
    width = line_width(frame.shape)
    for face in faces:
        box = tuple(round(v * scale) for v in face.bbox)
        face_box_draw(frame, box, face.probability, width)


def _banner_draw(frame: np.ndarray, annotations: VideoAnnotations, time_s: float) -> None:
    height = max(16, round(frame.shape[0] * BANNER_HEIGHT))
    frame[:height] = (frame[:height] * 0.35).astype(np.uint8)
    size = height / 40
    text = annotations.verdict_text
    if annotations.probability is not None:
        text += f"  {round(100 * annotations.probability)} %"
    _text(frame, text, (round(height * 0.3), round(height * 0.72)), size, (255, 255, 255))
    time_text = clock(time_s)
    (text_width, _), _ = cv2.getTextSize(time_text, cv2.FONT_HERSHEY_SIMPLEX, size, 1)
    origin = (frame.shape[1] - text_width - round(height * 0.4), round(height * 0.72))
    _text(frame, time_text, origin, size, (255, 255, 255))


def _timeline_draw(frame: np.ndarray, annotations: VideoAnnotations, time_s: float) -> None:
    height = max(8, round(frame.shape[0] * TIMELINE_HEIGHT))
    top = frame.shape[0] - height
    width = frame.shape[1]
    duration = max(annotations.duration_s, 1e-6)

    def x_of(t: float) -> int:
        return min(width - 1, max(0, round(t / duration * (width - 1))))

    frame[top:] = TIMELINE_COLOUR
    for span in annotations.spans:
        frame[top:, x_of(span.start_s) : x_of(span.end_s) + 1] = EDIT_COLOR
    if len(annotations.timeline) > 1:
        points = np.array(
            [(x_of(t), top + round((1 - p) * (height - 2)) + 1) for t, p in annotations.timeline],
            np.int32,
        )
        cv2.polylines(frame, [points], False, TRACE_COLOUR, 1, cv2.LINE_AA)
    playhead = x_of(time_s)
    frame[top:, max(0, playhead - 1) : playhead + 2] = PLAYHEAD_COLOUR


def annotated_frame(
    rgb: np.ndarray,
    annotations: VideoAnnotations,
    time_s: float,
    size: tuple[int, int],
    scale: float,
) -> np.ndarray:
    """One frame of the annotated video at `size` (width, height); `scale` maps the report's
    pixel coordinates (the video's full size) to the output's."""
    frame = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    _regions_draw(frame, annotations.spans_at(time_s), scale)
    _faces_draw(frame, annotations.faces_at(time_s), scale)
    _banner_draw(frame, annotations, time_s)
    _timeline_draw(frame, annotations, time_s)
    return frame


def _span_middles(spans: Sequence[EditedSpan]) -> list[float]:
    return [(span.start_s + span.end_s) / 2 for span in spans[:MAX_SHEET_TILES]]


def annotated_video_write(
    frames: Iterable[TimedFrame],
    annotations: VideoAnnotations,
    output: BinaryIO,
    *,
    fps: float,
    width: int,
    height: int,
) -> AnnotatedVideo:
    """Encode the annotated video of `frames` into `output` as MP4. `width` x `height` is the
    video's full size, which the annotations' boxes refer to (the frames may come smaller);
    `fps` is nominal: frame times are kept, so variable frame rates stay in sync."""
    out_width, out_height, scale = _output_size(width, height)
    middles = _span_middles(annotations.spans)
    nearest: list[tuple[float, float, np.ndarray] | None] = [None] * len(middles)
    result = AnnotatedVideo(size=(out_width, out_height))
    rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
    with av.open(output, mode="w", format="mp4") as container:
        stream = container.add_stream(ANNOTATED_CODEC, rate=rate, options=ANNOTATED_CODEC_OPTIONS)
        stream.width, stream.height = out_width, out_height
        stream.pix_fmt = ANNOTATED_PIXEL_FORMAT
        stream.codec_context.time_base = Fraction(1, 90_000)
        last_pts = -1
        for frame in frames:
            size = (out_width, out_height)
            drawn = annotated_frame(frame.rgb, annotations, frame.time_s, size, scale)
            for i, middle in enumerate(middles):
                distance = abs(frame.time_s - middle)
                kept = nearest[i]
                if kept is None or distance < kept[0]:
                    nearest[i] = (distance, frame.time_s, drawn)
            video_frame = av.VideoFrame.from_ndarray(drawn, format="rgb24")
            pts = max(last_pts + 1, round(frame.time_s * 90_000))
            video_frame.pts, video_frame.time_base = pts, Fraction(1, 90_000)
            last_pts = pts
            container.mux(stream.encode(video_frame))
            result.frames += 1
        container.mux(stream.encode(None))
    result.sheet = [(kept[1], kept[2]) for kept in nearest if kept is not None]
    return result


def contact_sheet(tiles: Sequence[tuple[float, np.ndarray]]) -> np.ndarray | None:
    """The annotated frames of the changed spans in a grid, each labelled with its time; None
    without any."""
    if not tiles:
        return None
    scaled = []
    for time_s, tile in tiles[:MAX_SHEET_TILES]:
        tile_height = max(2, round(tile.shape[0] * SHEET_TILE_WIDTH / tile.shape[1]))
        small = cv2.resize(tile, (SHEET_TILE_WIDTH, tile_height), interpolation=cv2.INTER_AREA)
        label = clock(time_s)
        cv2.rectangle(small, (0, tile_height - 22), (90, tile_height), (0, 0, 0), -1)
        _text(small, label, (4, tile_height - 6), 0.5, (255, 255, 255))
        scaled.append(small)
    tile_height = max(tile.shape[0] for tile in scaled)
    columns = min(SHEET_COLUMNS, len(scaled))
    rows = -(-len(scaled) // columns)
    sheet = np.full((rows * tile_height, columns * SHEET_TILE_WIDTH, 3), 24, np.uint8)
    for i, tile in enumerate(scaled):
        row, column = divmod(i, columns)
        top, left = row * tile_height, column * SHEET_TILE_WIDTH
        sheet[top : top + tile.shape[0], left : left + SHEET_TILE_WIDTH] = tile
    return sheet
