"""Generate the hostile video corpus: files the video intake (mediastore.videos) must refuse
cleanly, or read within its limits.

    python scripts/hostile_videos.py OUT_DIR

Writes OUT_DIR/<name> for every case plus OUT_DIR/manifest.json ({name: {"kind", "why",
"expect", "expect_frames"}}): the refusal code of inspect_video (or "accepted") and what reading
every frame ends with (a header that lies is caught while decoding). Deterministic (no clock, no
unseeded randomness); built with PyAV and numpy in about a second. A sibling of
hostile_corpus.py, whose files every *image* intake refuses: these are videos, read by a
different gate, and some of them are accepted (variable frame rate, a wrong extension).

The builders (`encode`, `repeated_frames`, `mov_with_external_reference`, ...) also make the
fixtures of tests/mediastore/test_videos.py and tests/security/test_hostile_videos.py.
"""

from __future__ import annotations

import io
import json
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

# Past the default limits of mediastore.videos.VideoLimits.
FRAME_FLOOD = 100_000
ENDLESS_SECONDS = 700


@dataclass(frozen=True)
class HostileVideo:
    name: str
    kind: str
    why: str
    expect: str  # the refusal code of inspect_video, or "accepted"
    content: bytes
    # What reading every frame (iter_frames) ends with, when it differs from `expect`.
    expect_frames: str = ""

    @property
    def expect_stream(self) -> str:
        return self.expect_frames or self.expect


def encode(
    container_format: str = "mp4",
    codec: str = "libx264",
    *,
    frames: int = 30,
    width: int = 64,
    height: int = 48,
    rate: int = 25,
    pts_ms: Sequence[int] | None = None,
    container_options: dict[str, str] | None = None,
    noise: bool = False,
    audio: bool = False,
) -> bytes:
    """A real video: moving gradients (or noise, costlier to decode), `frames` frames at `rate`
    fps, or at the millisecond timestamps `pts_ms` (variable frame rate); optional silent AAC."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(5)
    ramp = np.add.outer(np.arange(height), np.arange(width)).astype(np.int64)
    with av.open(buffer, "w", format=container_format, options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if audio:
            _silent_audio(out)
        for index in range(frames):
            if noise:
                pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
            else:
                shade = ((ramp + 5 * index) % 256).astype(np.uint8)
                pixels = np.dstack([shade, shade[::-1], np.full_like(shade, (9 * index) % 256)])
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[index], Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def _silent_audio(out: av.container.OutputContainer) -> None:
    stream = out.add_stream("aac", rate=8000)
    assert isinstance(stream, AudioStream)
    silence = av.AudioFrame.from_ndarray(
        np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
    )
    silence.sample_rate = 8000
    for index in range(8):
        silence.pts = index * 1024
        out.mux(stream.encode(silence))
    out.mux(stream.encode(None))


def audio_only(container_format: str = "mp4") -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as out:
        _silent_audio(out)
    return buffer.getvalue()


def repeated_frames(
    frames: int, *, step: int, time_base: Fraction, live: bool = False, side: int = 16
) -> bytes:
    """A Matroska file of `frames` copies of one tiny MPEG-4 intra frame, one every `step` ticks
    of `time_base`: 100,000 frames are written in a second, where encoding them would take
    minutes. With `live`, the header keeps no duration (as a live stream's does)."""
    encoded = encode("matroska", "mpeg4", frames=1, width=side, height=side)
    with av.open(io.BytesIO(encoded), "r", format="matroska") as source:
        template = source.streams.video[0]
        payload = bytes(next(packet for packet in source.demux(template) if packet.size))
        buffer = io.BytesIO()
        options = {"live": "1"} if live else {}
        with av.open(buffer, "w", format="matroska", options=options) as out:
            stream = out.add_stream_from_template(template)
            stream.time_base = time_base
            for index in range(frames):
                packet = av.Packet(payload)
                packet.stream = stream
                packet.time_base = time_base
                packet.pts = packet.dts = index * step
                packet.is_keyframe = True
                out.mux(packet)
    return buffer.getvalue()


def vp8_with_frame_size(width: int, height: int) -> bytes:
    """A small VP8 WebM whose track header and keyframes declare width x height (VP8 allows up
    to 16383 a side); the pixel data is that of a 256x256 video. Encoding a real 16k frame would
    take gigabytes and minutes; a header that lies is the attack anyway."""
    content = encode("webm", "libvpx", frames=3, width=256, height=256)
    for element in (b"\xb0", b"\xba"):  # Matroska PixelWidth, PixelHeight: 2-byte uint 256
        value = width if element == b"\xb0" else height
        content = content.replace(
            element + b"\x82\x01\x00", element + b"\x82" + struct.pack(">H", value)
        )
    patched = bytearray(content)
    at = patched.find(b"\x9d\x01\x2a")  # VP8 keyframe start code, then 14-bit sizes
    while at >= 0:
        patched[at + 3 : at + 7] = struct.pack("<HH", width, height)
        at = patched.find(b"\x9d\x01\x2a", at + 7)
    return bytes(patched)


def truncated_moov(content: bytes) -> bytes:
    """An MP4 cut in the middle of its `moov` (PyAV writes it after the media data)."""
    moov = content.rfind(b"moov") - 4
    return content[: moov + (len(content) - moov) // 2]


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of the ISO BMFF boxes between start and end (32-bit sizes)."""
    found, at = [], start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        found.append((kind, at, size))
        at += size
    return found


def mov_with_external_reference(path: str) -> bytes:
    """A MOV whose video track's data reference (`dref`) is a QuickTime alias to `path`: with
    FFmpeg's `enable_drefs` on, the demuxer opens that file for the track's samples."""
    content = encode("mov", "libx264", frames=5)
    chain = [b"moov", b"trak", b"mdia", b"minf", b"dinf", b"dref"]
    parents: list[tuple[int, int]] = []
    start, end = 0, len(content)
    for kind in chain:
        at, size = next((a, s) for k, a, s in _boxes(content, start, end) if k == kind)
        parents.append((at, size))
        header = 16 if kind == b"dref" else 8  # dref: version, flags, entry count
        start, end = at + header, at + size
    path_bytes = path.encode()
    alias = (
        bytes(10)
        + bytes([0])
        + bytes(27)  # volume name
        + bytes(12)
        + bytes([len(path_bytes[:63])])
        + path_bytes[:63].ljust(63, b"\0")  # file name
        + bytes(16)
        + struct.pack(">hh", -1, -1)  # levels up from the alias, down to the target
        + bytes(16)
        + struct.pack(">HH", 2, len(path_bytes))  # record 2: absolute path
        + path_bytes
        + (b"\0" if len(path_bytes) % 2 else b"")
        + struct.pack(">hH", -1, 0)  # end of records
    )
    entry = struct.pack(">I4sI", 12 + len(alias), b"alis", 0) + alias
    dref_at, dref_size = parents[-1]
    dref = struct.pack(">I4sII", 16 + len(entry), b"dref", 0, 1) + entry
    grown = len(dref) - dref_size
    patched = bytearray(content[:dref_at] + dref + content[dref_at + dref_size :])
    for at, size in parents[:-1]:
        patched[at : at + 4] = struct.pack(">I", size + grown)
    return bytes(patched)


def corpus() -> list[HostileVideo]:
    webm = encode("webm", "libvpx-vp9", frames=10)
    return [
        HostileVideo(
            "hls_playlist.m3u8",
            "playlist",
            "HLS playlist naming a local file (FFmpeg's hls demuxer would open it)",
            "unsupported_format",
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        ),
        HostileVideo(
            "hls_playlist_named.mp4",
            "playlist",
            "the same playlist named .mp4",
            "unsupported_format",
            b"#EXTM3U\n#EXTINF:10,\n/etc/passwd\n#EXT-X-ENDLIST\n",
        ),
        HostileVideo(
            "concat_list.mp4",
            "playlist",
            "ffconcat list naming local files",
            "unsupported_format",
            b"ffconcat version 1.0\nfile '/etc/passwd'\nfile '/etc/hostname'\n",
        ),
        HostileVideo(
            "mov_dref_etc_passwd.mov",
            "external_reference",
            "MOV track whose samples live in /etc/passwd (a QuickTime alias data reference)",
            "corrupt",
            mov_with_external_reference("/etc/passwd"),
        ),
        HostileVideo(
            "truncated_moov.mp4",
            "truncated",
            "MP4 cut in the middle of its moov box",
            "corrupt",
            truncated_moov(encode("mp4", "libx264")),
        ),
        HostileVideo(
            "frames_100000_at_1000fps.mkv",
            "frame_bomb",
            "100,000 16x16 frames 1 ms apart, the header declaring 25 fps over 100 s",
            "accepted",
            repeated_frames(FRAME_FLOOD, step=1, time_base=Fraction(1, 1000)),
            expect_frames="video_frame_rate",
        ),
        HostileVideo(
            "frames_100000_at_100fps.mkv",
            "frame_bomb",
            "100,000 16x16 frames, 10 ms apart (1,000 s)",
            "video_too_long",
            repeated_frames(FRAME_FLOOD, step=10, time_base=Fraction(1, 1000)),
        ),
        HostileVideo(
            "frame_16383x16383.webm",
            "dimension_bomb",
            "VP8 track and keyframes declaring 16383x16383 (268 megapixels a frame)",
            "video_too_many_pixels",
            vp8_with_frame_size(16383, 16383),
        ),
        HostileVideo(
            "endless_live_700s.mkv",
            "endless",
            f"live-style Matroska without a duration, {ENDLESS_SECONDS} 1-fps frames",
            "accepted",
            repeated_frames(ENDLESS_SECONDS, step=1, time_base=Fraction(1, 1), live=True),
            expect_frames="video_too_long",
        ),
        HostileVideo(
            "audio_only.m4a",
            "no_video",
            "MP4 with one AAC track",
            "no_video_stream",
            audio_only("mp4"),
        ),
        HostileVideo(
            "audio_only.mka",
            "no_video",
            "Matroska with one AAC track",
            "no_video_stream",
            audio_only("matroska"),
        ),
        HostileVideo(
            "ffv1.mkv",
            "codec",
            "FFV1 (lossless), not an allowed codec",
            "unsupported_codec",
            encode("matroska", "ffv1", frames=3),
        ),
        HostileVideo(
            "heif_brand.mp4",
            "not_a_video",
            "an ISO BMFF file of brand heic (a still image)",
            "unsupported_format",
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic",
        ),
        HostileVideo(
            "vfr.mp4",
            "accepted",
            "variable frame rate (frames 10 to 600 ms apart)",
            "accepted",
            encode("mp4", frames=8, pts_ms=[0, 10, 50, 400, 420, 1000, 1600, 1610]),
        ),
        HostileVideo("webm_named.mp4", "accepted", "a WebM named .mp4", "accepted", webm),
        HostileVideo("empty.mp4", "empty", "no bytes", "empty", b""),
    ]


def corpus_write(out_dir: Path) -> list[HostileVideo]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = corpus()
    for item in files:
        (out_dir / item.name).write_bytes(item.content)
    manifest = {
        item.name: {"kind": item.kind, "why": item.why, "expect": item.expect} for item in files
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return files


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/hostile_videos.py OUT_DIR", file=sys.stderr)
        return 2
    files = corpus_write(Path(argv[0]))
    total = sum(len(item.content) for item in files)
    print(f"{len(files)} hostile videos, {total} bytes, in {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
