"""Video intake: the only place video bytes become frames. Sniff the signature, open with one
named demuxer from memory, check the header against named limits, then stream frames within a
CPU, frame-count and duration budget (README, "Videos").

Importable without Django settings: the limits come from `VideoLimits` (passed in, or read from
the settings at call time by `video_limits`, falling back to the defaults below)."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, BinaryIO

import av
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame as DecodedFrame
from av.video.stream import VideoStream
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mediastore.refusals import MediaRejected

ALLOWED_VIDEO_FORMATS: dict[str, str] = {
    "MP4": "video/mp4",
    "MOV": "video/quicktime",
    "WEBM": "video/webm",
    "MKV": "video/x-matroska",
}
VIDEO_FORMAT_EXTENSIONS = {"MP4": "mp4", "MOV": "mov", "WEBM": "webm", "MKV": "mkv"}
# The only two demuxers that ever read uploaded bytes. Each is named explicitly: FFmpeg's probe
# could otherwise pick one that opens other files (hls, concat, image2, dash, ...).
_DEMUXERS = {"MP4": "mov", "MOV": "mov", "WEBM": "matroska", "MKV": "matroska"}
# The MOV demuxer can follow a track's data reference (`dref`) to another file; both options
# below are FFmpeg's defaults, set explicitly so no build or version can differ.
_DEMUXER_OPTIONS = {
    "mov": {"enable_drefs": "0", "use_absolute_path": "0"},
    "matroska": {},
}
ALLOWED_VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"})
# FFmpeg's decoders of those codecs (AV1 is decoded by dav1d).
_ALLOWED_DECODERS = ALLOWED_VIDEO_CODECS | {"libdav1d"}
# A fragmented MP4 holds two boxes per fragment (moof, mdat): 1-second fragments of a
# 600-second video make 1,200; each box costs the walk below one seek.
MAX_ISO_TOP_LEVEL_BOXES = 20_000
# ISO BMFF major brands of still images (HEIF, AVIF): the same box format, not a video.
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282
_MATROSKA_DOCTYPES = {b"webm": "WEBM", b"matroska": "MKV"}
SNIFF_BYTES = 4096
# Decoding threads per video: the machine's two cores are shared with web and other workers.
DECODE_THREADS = 2
_SAMPLE_TOLERANCE_S = 1e-6
__all__ = [
    "ALLOWED_VIDEO_CODECS",
    "ALLOWED_VIDEO_FORMATS",
    "DECODE_THREADS",
    "MAX_ISO_TOP_LEVEL_BOXES",
    "VIDEO_FORMAT_EXTENSIONS",
    "VideoFrame",
    "VideoInfo",
    "VideoLimits",
    "VideoRejected",
    "inspect_video",
    "iter_frames",
    "looks_like_video",
    "video_format",
    "video_limits",
]


@dataclass(frozen=True)
class VideoLimits:
    """The named limits of video intake. Defaults are those of config/settings/base.py, where
    each is read from the environment (VIDEO_MAX_BYTES, VIDEO_MAX_SECONDS, VIDEO_MAX_PIXELS,
    VIDEO_MAX_FPS, VIDEO_DECODE_CPU_SECONDS)."""

    max_bytes: int = 200 * 1024 * 1024
    max_seconds: int = 600
    max_pixels: int = 3840 * 2160
    max_fps: int = 120
    decode_cpu_seconds: float = 300

    @property
    def max_frames(self) -> int:
        """The most frames a video within the duration and frame-rate caps can hold; counted
        while decoding too, so frames with lying or missing timestamps are bounded as well."""
        return self.max_seconds * self.max_fps


_SETTING_NAMES = {
    "max_bytes": "VIDEO_MAX_BYTES",
    "max_seconds": "VIDEO_MAX_SECONDS",
    "max_pixels": "VIDEO_MAX_PIXELS",
    "max_fps": "VIDEO_MAX_FPS",
    "decode_cpu_seconds": "VIDEO_DECODE_CPU_SECONDS",
}


def video_limits() -> VideoLimits:
    """The limits in the Django settings at call time; the defaults without settings."""
    defaults = VideoLimits()
    try:
        values = {
            field.name: int(
                getattr(settings, _SETTING_NAMES[field.name], getattr(defaults, field.name))
            )
            for field in fields(VideoLimits)
        }
    except ImproperlyConfigured:
        return defaults
    return VideoLimits(**values)


class VideoRejected(MediaRejected):
    """The bytes are not a video we accept (413 over VIDEO_MAX_BYTES)."""

    too_large_code = "video_too_large"


@dataclass(frozen=True)
class VideoInfo:
    """Header facts of an accepted video. `width`/`height` are as coded; `rotation` is the
    display matrix's counter-clockwise turn in degrees (0-359, PyAV's VideoFrame.rotation),
    which players apply, and so does `iter_frames` (quarter turns): `display_width` and
    `display_height` are the frames' size upright. `frames` is the container's count, or
    duration x fps without one."""

    format: str
    mime: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float | None
    frames: int
    rotation: int

    @property
    def display_width(self) -> int:
        return self.height if _quarter_turns(self.rotation) % 2 else self.width

    @property
    def display_height(self) -> int:
        return self.width if _quarter_turns(self.rotation) % 2 else self.height


def _quarter_turns(rotation: float) -> int:
    """Counter-clockwise quarter turns of a display rotation in degrees; a rotation that is not
    a multiple of 90 degrees (which phones never write) is not applied."""
    degrees = round(rotation) % 360
    return degrees // 90 if degrees % 90 == 0 else 0


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: `index` counts every decoded frame from 0 (sampled or not), `time_s`
    is its presentation time from the stream's start (pts x time base, so variable frame rate
    is exact), `rgb` is HxWx3 uint8 upright: the display rotation applied, as players do."""

    index: int
    time_s: float
    rgb: np.ndarray


def looks_like_video(head: bytes) -> bool:
    """Whether the bytes start like a container this module reads (ISO BMFF or EBML); the
    caller then sends them to this gate, never to the image one."""
    return head[4:8] == b"ftyp" or head.startswith(_EBML_MAGIC)


def video_format(head: bytes) -> str:
    """The container (a key of ALLOWED_VIDEO_FORMATS) named by the file's first bytes alone:
    an `ftyp` box at offset 4 (MOV for the `qt  ` brand, otherwise MP4) or an EBML header (WebM
    or Matroska by DocType). Anything else, text playlists and concat lists included, is
    refused before FFmpeg sees a byte."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            raise VideoRejected(
                f"ISO BMFF brand {brand.decode('latin-1')!r} is a still image, not a video",
                code="unsupported_format",
            )
        return "MOV" if brand == b"qt  " else "MP4"
    if head.startswith(_EBML_MAGIC):
        doctype = _ebml_doctype(head)
        if doctype in _MATROSKA_DOCTYPES:
            return _MATROSKA_DOCTYPES[doctype]
        raise VideoRejected(
            f"EBML document type {doctype!r} is not accepted (accepted: webm, matroska)",
            code="unsupported_format",
        )
    raise VideoRejected(
        f"the file is not a video container we accept ({', '.join(ALLOWED_VIDEO_FORMATS)})",
        code="unsupported_format",
    )


def _ebml_vint(data: bytes, at: int, *, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at `at`: (value, offset after it). Element IDs keep
    their length marker bit, sizes do not."""
    if at >= len(data) or data[at] == 0:
        raise VideoRejected("the EBML header is malformed", code="corrupt")
    length = 9 - data[at].bit_length()
    if at + length > len(data):
        raise VideoRejected("the EBML header is truncated", code="corrupt")
    value = int.from_bytes(data[at : at + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, at + length


def _ebml_doctype(head: bytes) -> bytes:
    size, at = _ebml_vint(head, len(_EBML_MAGIC), keep_marker=False)
    end = min(at + size, len(head))
    while at < end:
        element, at = _ebml_vint(head, at, keep_marker=True)
        length, at = _ebml_vint(head, at, keep_marker=False)
        if element == _EBML_DOCTYPE:
            return head[at : at + length].rstrip(b"\0")
        at += length
    raise VideoRejected("the EBML header names no document type", code="corrupt")


def inspect_video(content: bytes, *, limits: VideoLimits | None = None) -> VideoInfo:
    """Check size, signature, demuxer header, streams, codec, frame size, frame rate, duration
    and frame count, and that the first frame decodes; return the header facts.

    Raises VideoRejected (with its code) at the first check that fails."""
    limits = limits or video_limits()
    with _opened(content, limits) as (container, stream, video_format_name):
        first = next(_decoded(container, stream, limits), None)
        if first is None:
            raise VideoRejected("the video has no decodable frame", code="corrupt")
        frame, _ = first
        return VideoInfo(
            format=video_format_name,
            mime=ALLOWED_VIDEO_FORMATS[video_format_name],
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(_frame_rate(stream) or 0),
            duration_s=_duration_s(container, stream),
            frames=_frame_estimate(container, stream),
            rotation=int(frame.rotation) % 360,
        )


def iter_frames(
    content_or_fileobj: bytes | BinaryIO,
    *,
    every_s: float | None = None,
    max_side: int | None = None,
    limits: VideoLimits | None = None,
) -> Iterator[VideoFrame]:
    """Decode frames one at a time after the checks of inspect_video.

    `every_s` keeps the first frame at or after each multiple of it (by timestamp); `max_side`
    scales frames down (never up) so neither side exceeds it. Every frame is decoded and counted
    whether kept or not; VideoRejected stops the stream at the frame-size, frame-count, duration
    or CPU-time limit (an endless stream ends at one of them)."""
    if every_s is not None and not every_s > 0:
        raise ValueError(f"every_s must be positive, got {every_s!r}")
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side!r}")
    limits = limits or video_limits()
    next_sample_s = 0.0
    with _opened(content_or_fileobj, limits) as (container, stream, _):
        for index, (frame, time_s) in enumerate(_decoded(container, stream, limits)):
            if every_s is not None:
                # Timestamps are exact fractions; sample times are floats, hence the tolerance.
                if time_s < next_sample_s - _SAMPLE_TOLERANCE_S:
                    continue
                next_sample_s = (math.floor(time_s / every_s + _SAMPLE_TOLERANCE_S) + 1) * every_s
            yield VideoFrame(index=index, time_s=time_s, rgb=_rgb(frame, max_side))


def _rgb(frame: DecodedFrame, max_side: int | None) -> np.ndarray:
    width, height = frame.width, frame.height
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    array = np.asarray(
        frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA"),
        dtype=np.uint8,
    )
    turns = _quarter_turns(frame.rotation)
    return np.ascontiguousarray(np.rot90(array, turns)) if turns else array


def _time_s(frame: DecodedFrame, stream: VideoStream, start: int) -> float:
    if frame.pts is None or stream.time_base is None:
        return 0.0
    return max(0.0, float((frame.pts - start) * stream.time_base))


def _refuse_nested_open(url: str, flags: int, options: dict[str, str]) -> Any:
    """FFmpeg's way for a demuxer to open another file or URL (HLS segments, concat entries,
    MOV data references). Uploaded videos are one self-contained file: every such open fails."""
    raise _NestedOpen(url)


class _NestedOpen(PermissionError):
    pass


@contextmanager
def _opened(
    source: bytes | BinaryIO, limits: VideoLimits
) -> Iterator[tuple[InputContainer, VideoStream, str]]:
    """The open container, its video stream and format name, once every header check passed."""
    fileobj: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    if size == 0:
        raise VideoRejected("the file is empty", code="empty")
    if size > limits.max_bytes:
        raise VideoRejected(
            f"the video is {size} bytes; the limit is {limits.max_bytes}", code="video_too_large"
        )
    format_name = video_format(fileobj.read(SNIFF_BYTES))
    demuxer = _DEMUXERS[format_name]
    if demuxer == "mov":
        _check_iso_boxes(fileobj, size)
    fileobj.seek(0)
    try:
        container = av.open(
            fileobj,
            mode="r",
            format=demuxer,
            # Also the decoders' options while FFmpeg probes the streams, before any check here.
            options=_DEMUXER_OPTIONS[demuxer] | _decoder_options(limits),
            io_open=_refuse_nested_open,
        )
    except _NestedOpen:
        raise _external_reference() from None
    except av.FFmpegError as error:
        raise VideoRejected(
            f"the {format_name} container could not be read ({_reason(error)})", code="corrupt"
        ) from None
    try:
        stream = _video_stream(container)
        _check_header(container, stream, limits)
        _configure_decoder(stream, limits)
        yield container, stream, format_name
    except _NestedOpen:
        raise _external_reference() from None
    finally:
        container.close()


def _external_reference() -> VideoRejected:
    return VideoRejected("the video refers to other files", code="external_reference")


def _reason(error: av.FFmpegError) -> str:
    return str(getattr(error, "strerror", "") or type(error).__name__).splitlines()[0]


def _video_stream(container: InputContainer) -> VideoStream:
    """The first video stream that is not a cover picture (an audio file's album art)."""
    attached_picture = av.stream.Disposition.attached_pic
    for stream in container.streams.video:
        if not stream.disposition & attached_picture:
            return stream
    kinds: list[str] = sorted({stream.type for stream in container.streams}) or ["no streams"]
    raise VideoRejected(
        f"the file has no video stream ({', '.join(kinds)})", code="no_video_stream"
    )


def _check_header(container: InputContainer, stream: VideoStream, limits: VideoLimits) -> None:
    codec = stream.codec_context.name
    if codec not in ALLOWED_VIDEO_CODECS:
        raise VideoRejected(
            f"video codec {codec} is not accepted "
            f"(accepted: {', '.join(sorted(ALLOWED_VIDEO_CODECS))})",
            code="unsupported_codec",
        )
    width, height = stream.codec_context.width, stream.codec_context.height
    if width < 1 or height < 1:
        raise VideoRejected(f"the video declares a {width}x{height} frame", code="corrupt")
    _check_pixels(width, height, limits)
    fps = _frame_rate(stream)
    if fps is not None and fps > limits.max_fps:
        raise VideoRejected(
            f"the video runs at {fps:.6g} frames per second; the limit is {limits.max_fps}",
            code="video_frame_rate",
        )
    duration_s = _duration_s(container, stream)
    if duration_s is not None and duration_s > limits.max_seconds:
        raise VideoRejected(
            f"the video lasts {duration_s:.1f} s; the limit is {limits.max_seconds} s",
            code="video_too_long",
        )
    frames = _frame_estimate(container, stream)
    if frames > limits.max_frames:
        raise _too_many_frames(frames, limits)


def _check_pixels(width: int, height: int, limits: VideoLimits) -> None:
    if width * height > limits.max_pixels:
        raise VideoRejected(
            f"the video's frames are {width}x{height} pixels; the limit is "
            f"{limits.max_pixels} pixels per frame",
            code="video_too_many_pixels",
        )


def _too_many_frames(frames: int, limits: VideoLimits) -> VideoRejected:
    return VideoRejected(
        f"the video has {frames} frames or more; the limit is {limits.max_frames}",
        code="too_many_frames",
    )


def _configure_decoder(stream: VideoStream, limits: VideoLimits) -> None:
    context = stream.codec_context
    context.thread_count = DECODE_THREADS
    context.thread_type = "AUTO"
    context.options = _decoder_options(limits)


def _decoder_options(limits: VideoLimits) -> dict[str, str]:
    """Options of every FFmpeg decoder that sees the bytes: only the allowlisted codecs may be
    opened (FFmpeg decodes a little while probing, before the codec check here), and
    `max_pixels` stops one from allocating a frame far past the limit (a header that lies, a
    resolution change mid-stream). The exact check is per decoded frame; FFmpeg counts
    stride-aligned widths, hence the slack."""
    return {
        "codec_whitelist": ",".join(sorted(_ALLOWED_DECODERS)),
        "max_pixels": str(2 * limits.max_pixels),
    }


def _check_iso_boxes(fileobj: BinaryIO, size: int) -> None:
    """Walk the top-level boxes of an MP4/MOV without parsing them: they must tile the file
    exactly and include a `moov`. FFmpeg reads a `moov` cut short as far as it goes and
    reports what it half-read (a truncated upload would pass as a garbled video)."""
    at, count, kinds = 0, 0, set()
    while at < size:
        fileobj.seek(at)
        header = fileobj.read(16)
        box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
        if box_size == 1:
            box_size = int.from_bytes(header[8:16], "big")
        elif box_size == 0:  # the last box runs to the end of the file
            box_size = size - at
        if len(header) < 8 or box_size < 8 or at + box_size > size:
            raise VideoRejected(
                f"the file ends inside its {kind.decode('latin-1')!r} box (truncated)",
                code="corrupt",
            )
        count += 1
        if count > MAX_ISO_TOP_LEVEL_BOXES:
            raise VideoRejected(
                f"the file has more than {MAX_ISO_TOP_LEVEL_BOXES} top-level boxes",
                code="too_many_boxes",
            )
        kinds.add(kind)
        at += box_size
    if b"moov" not in kinds:
        raise VideoRejected("the file has no 'moov' box (truncated?)", code="corrupt")


def _frame_rate(stream: VideoStream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def _duration_s(container: InputContainer, stream: VideoStream) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _frame_estimate(container: InputContainer, stream: VideoStream) -> int:
    if stream.frames:
        return int(stream.frames)
    duration_s, fps = _duration_s(container, stream), _frame_rate(stream)
    return round(duration_s * fps) if duration_s and fps else 0


def _decoded(
    container: InputContainer, stream: VideoStream, limits: VideoLimits
) -> Iterator[tuple[DecodedFrame, float]]:
    """Every decoded frame of the stream and its time, checked one by one against the limits."""
    budget = _CpuBudget(limits.decode_cpu_seconds)
    start = stream.start_time or 0
    count = 0
    try:
        for packet in container.demux(stream):
            budget.check()
            for frame in packet.decode():
                count += 1
                if count > limits.max_frames:
                    raise _too_many_frames(count, limits)
                _check_pixels(frame.width, frame.height, limits)
                time_s = _time_s(frame, stream, start)
                # Counted against the timestamps: a header can declare 25 fps over frames 1 ms
                # apart, or timestamps can stand still. One second of grace for bursts.
                if count > limits.max_fps * (time_s + 1):
                    raise VideoRejected(
                        f"the video shows {count} frames in its first {time_s:.2f} s; the limit "
                        f"is {limits.max_fps} frames per second",
                        code="video_frame_rate",
                    )
                if time_s > limits.max_seconds:
                    raise VideoRejected(
                        f"the video runs past {limits.max_seconds} s (a frame at {time_s:.1f} s)",
                        code="video_too_long",
                    )
                budget.check()
                yield frame, time_s
                budget.resume()
    except av.FFmpegError as error:
        raise VideoRejected(
            f"the video data is corrupt ({_reason(error)})", code="corrupt"
        ) from None
    if count == 0:
        raise VideoRejected("the video has no decodable frame", code="corrupt")


class _CpuBudget:
    """CPU time spent decoding, the caller's work between frames excluded. process_time counts
    every thread of the process, FFmpeg's decoding threads included."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self.resumed = time.process_time()

    def resume(self) -> None:
        self.resumed = time.process_time()

    def check(self) -> None:
        now = time.process_time()
        self.spent += now - self.resumed
        self.resumed = now
        if self.spent > self.seconds:
            raise VideoRejected(
                f"decoding took more than {self.seconds} s of CPU time", code="decode_budget"
            )
