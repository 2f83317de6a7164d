"""The annotated result video: edits, faces, banner and timeline burnt into a playable MP4."""

import io
from dataclasses import dataclass

import av
import numpy as np

from moderation.video_rendering import (
    EditedSpan,
    FaceBox,
    VideoAnnotations,
    annotated_frame,
    annotated_video_write,
    contact_sheet,
)

WIDTH, HEIGHT, FPS = 320, 240, 10


@dataclass(frozen=True)
class Frame:
    time_s: float
    rgb: np.ndarray


def _frames(count: int) -> list[Frame]:
    grey = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    return [Frame(i / FPS, grey) for i in range(count)]


ANNOTATIONS = VideoAnnotations(
    duration_s=3.0,
    verdict_text="Edited copy",
    probability=0.9,
    spans=(EditedSpan(1.0, 2.0, ((100, 80, 60, 40),)),),
    faces=(FaceBox(0.5, (20, 20, 40, 40), 0.95),),
    timeline=((0.0, 0.1), (1.0, 0.8), (2.0, 0.2)),
)


def _decoded(data: bytes) -> list[tuple[float, np.ndarray]]:
    with av.open(io.BytesIO(data), mode="r") as container:
        return [
            (float(frame.time), frame.to_ndarray(format="rgb24"))
            for frame in container.decode(video=0)
        ]


def test_the_annotated_video_plays_back_with_its_times_and_the_edit_drawn_only_in_its_span():
    output = io.BytesIO()
    written = annotated_video_write(
        _frames(30), ANNOTATIONS, output, fps=FPS, width=WIDTH, height=HEIGHT
    )
    assert written.frames == 30
    decoded = _decoded(output.getvalue())
    assert len(decoded) == 30
    assert [round(t, 2) for t, _ in decoded] == [round(i / FPS, 2) for i in range(30)]
    with av.open(io.BytesIO(output.getvalue()), mode="r") as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 320, 240)

    def red_in_region(frame: np.ndarray) -> float:
        inside = frame[85:115, 105:155].astype(int)
        return float((inside[..., 0] - inside[..., 1]).mean())

    assert red_in_region(decoded[15][1]) > 40  # 1.5 s: inside the edited span
    assert red_in_region(decoded[5][1]) < 10  # 0.5 s: before it
    # The face box (red: 0.95) is drawn around its sampled time only.
    assert decoded[5][1][20:60, 19:22, 0].mean() > 150
    assert decoded[25][1][20:60, 19:22, 0].mean() < 150
    # One contact-sheet frame, the one nearest the span's middle.
    assert [round(t, 2) for t, _ in written.sheet] == [1.5]


def test_a_large_video_is_shrunk_to_even_sides_and_the_banner_dims_the_top():
    rgb = np.full((1081, 2001, 3), 200, np.uint8)
    frame = annotated_frame(rgb, ANNOTATIONS, 0.0, (1280, 692), 1280 / 2001)
    assert frame.shape == (692, 1280, 3)
    assert frame[5, 600].mean() < 100  # banner
    assert frame[-2, 640].tolist() != [200, 200, 200]  # timeline bar


def test_contact_sheet_lays_out_one_tile_per_span():
    tiles = [(float(i), np.full((240, 320, 3), 50 * i, np.uint8)) for i in range(4)]
    sheet = contact_sheet(tiles)
    assert sheet is not None and sheet.shape == (2 * 360, 3 * 480, 3)
    assert contact_sheet([]) is None
