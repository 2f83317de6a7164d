"""Video intake (mediastore.videos): real videos made with PyAV are read, their facts reported
and their frames streamed; each named limit refuses at its boundary; accepted videos are stored
content-addressed (mediastore.services, allow_video) and served playable but sandboxed."""

from __future__ import annotations

import hashlib
import io
from fractions import Fraction

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.http import FileResponse

from factcheck.evaluation import videocases as vc
from mediastore import images, videos
from mediastore.images import ImageRejected
from mediastore.models import MediaObject
from mediastore.services import media_prepare, media_read, media_store
from mediastore.serving import media_file_response, stored_name
from mediastore.videos import (
    VideoLimits,
    VideoRejected,
    inspect_video,
    iter_frames,
    video_format,
    video_limits,
)
from tests.scripts_loader import script_module
from tests.videos import displayed_turned_clockwise

hostile_videos = script_module("hostile_videos")
encode = hostile_videos.encode
VFR_PTS_MS = [0, 10, 50, 400, 420, 1000, 1600, 1610]


@pytest.fixture(scope="module")
def samples() -> dict[str, bytes]:
    return {
        "MP4": encode("mp4", "libx264"),
        "MOV": encode("mov", "libx264"),
        "WEBM": encode("webm", "libvpx-vp9"),
        "MKV": encode("matroska", "mpeg4"),
    }


@pytest.mark.parametrize(
    ("video_format_name", "codec", "mime"),
    [
        ("MP4", "h264", "video/mp4"),
        ("MOV", "h264", "video/quicktime"),
        ("WEBM", "vp9", "video/webm"),
        ("MKV", "mpeg4", "video/x-matroska"),
    ],
)
def test_each_container_is_read_with_its_facts(samples, video_format_name, codec, mime) -> None:
    info = inspect_video(samples[video_format_name])
    assert (info.format, info.codec, info.mime) == (video_format_name, codec, mime)
    assert (info.width, info.height, info.fps, info.frames, info.rotation) == (64, 48, 25, 30, 0)
    assert info.duration_s == pytest.approx(1.2, abs=0.05)


def test_vp8_webm_is_accepted() -> None:
    assert inspect_video(encode("webm", "libvpx", frames=5)).codec == "vp8"


def test_the_container_comes_from_the_bytes_not_the_name(samples) -> None:
    assert video_format(samples["WEBM"][:64]) == "WEBM"
    assert video_format(samples["MKV"][:64]) == "MKV"
    assert video_format(samples["MOV"][:64]) == "MOV"
    assert video_format(samples["MP4"][:64]) == "MP4"


def test_frames_are_streamed_with_their_times(samples) -> None:
    frames = list(iter_frames(samples["MP4"]))
    assert [frame.index for frame in frames] == list(range(30))
    assert [frame.time_s for frame in frames] == pytest.approx([i / 25 for i in range(30)])
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    # The generated picture: the red channel is a diagonal ramp.
    assert abs(int(frames[0].rgb[10, 20, 0]) - 30) <= 6


def test_iter_frames_reads_a_file_object(samples) -> None:
    assert len(list(iter_frames(io.BytesIO(samples["WEBM"])))) == 30


def test_sampling_keeps_the_first_frame_at_or_after_each_time(samples) -> None:
    kept = list(iter_frames(samples["MKV"], every_s=0.2))
    assert [round(frame.time_s, 2) for frame in kept] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert [frame.index for frame in kept] == [0, 5, 10, 15, 20, 25]


def test_variable_frame_rate_uses_timestamps() -> None:
    content = encode("mp4", frames=len(VFR_PTS_MS), pts_ms=VFR_PTS_MS)
    times = [frame.time_s for frame in iter_frames(content)]
    assert times == pytest.approx([ms / 1000 for ms in VFR_PTS_MS])
    kept = [frame.time_s for frame in iter_frames(content, every_s=0.5)]
    assert kept == pytest.approx([0.0, 1.0, 1.6])


def test_max_side_scales_down_only(samples) -> None:
    small = next(iter_frames(samples["MP4"], max_side=32))
    assert small.rgb.shape == (24, 32, 3)
    assert next(iter_frames(samples["MP4"], max_side=1000)).rgb.shape == (48, 64, 3)


def test_bad_arguments_are_programming_errors(samples) -> None:
    with pytest.raises(ValueError, match="every_s"):
        next(iter_frames(samples["MP4"], every_s=0))
    with pytest.raises(ValueError, match="max_side"):
        next(iter_frames(samples["MP4"], max_side=0))


def test_limits_default_to_the_settings_defaults(settings) -> None:
    assert video_limits() == VideoLimits()
    assert VideoLimits().max_frames == 600 * 120
    settings.VIDEO_MAX_SECONDS = 5
    assert video_limits().max_seconds == 5


def _refusal(content: bytes, limits: VideoLimits | None = None) -> VideoRejected:
    with pytest.raises(VideoRejected) as raised:
        inspect_video(content, limits=limits)
    message = str(raised.value)
    assert len(message) > 10 and "\n" not in message
    return raised.value


def test_byte_limit_boundary(samples) -> None:
    content = samples["MP4"]
    inspect_video(content, limits=VideoLimits(max_bytes=len(content)))
    refusal = _refusal(content, VideoLimits(max_bytes=len(content) - 1))
    assert refusal.code == "video_too_large" and refusal.status == 413


def test_pixel_limit_boundary(samples) -> None:
    inspect_video(samples["MP4"], limits=VideoLimits(max_pixels=64 * 48))
    assert _refusal(samples["MP4"], VideoLimits(max_pixels=64 * 48 - 1)).code == (
        "video_too_many_pixels"
    )


def test_frame_rate_limit_boundary(samples) -> None:
    inspect_video(samples["WEBM"], limits=VideoLimits(max_fps=25))
    assert _refusal(samples["WEBM"], VideoLimits(max_fps=24)).code == "video_frame_rate"


def test_duration_limit_boundary() -> None:
    content = encode("mp4", frames=50, rate=25)  # 2.0 s
    inspect_video(content, limits=VideoLimits(max_seconds=2))
    refusal = _refusal(content, VideoLimits(max_seconds=1))
    assert refusal.code == "video_too_long" and refusal.status == 400


def test_settings_reach_the_gate(settings, samples) -> None:
    settings.VIDEO_MAX_FPS = 24
    assert _refusal(samples["MP4"]).code == "video_frame_rate"


def _live(frames: int, *, step_ms: int) -> bytes:
    """Matroska without a duration in its header (a live stream's), `frames` 16x16 frames."""
    return hostile_videos.repeated_frames(
        frames, step=step_ms, time_base=Fraction(1, 1000), live=True
    )


def test_without_a_declared_duration_the_stream_stops_at_the_limits() -> None:
    content = _live(60, step_ms=40)  # 2.4 s at 25 fps; the header says nothing of it
    assert inspect_video(content, limits=VideoLimits(max_seconds=1)).duration_s is None
    with pytest.raises(VideoRejected) as raised:
        list(iter_frames(content, limits=VideoLimits(max_seconds=1)))
    assert raised.value.code == "video_too_long"
    frames: list[float] = []
    with pytest.raises(VideoRejected) as raised:
        frames.extend(
            frame.time_s for frame in iter_frames(content, limits=VideoLimits(max_seconds=2))
        )
    assert raised.value.code == "video_too_long" and max(frames) <= 2.0


def test_the_frame_cap_counts_decoded_frames() -> None:
    # 26 frames within 1 s at 25 fps: past max_seconds x max_fps = 25 without breaking either.
    content = _live(30, step_ms=39)
    with pytest.raises(VideoRejected) as raised:
        list(iter_frames(content, limits=VideoLimits(max_seconds=1, max_fps=26)))
    assert raised.value.code == "too_many_frames"


def test_per_frame_pixel_check(monkeypatch, samples) -> None:
    # A header that passed (skipped here) cannot smuggle larger frames past the decoder loop.
    monkeypatch.setattr(videos, "_check_header", lambda *args: None)
    with pytest.raises(VideoRejected) as raised:
        list(iter_frames(samples["MP4"], limits=VideoLimits(max_pixels=64 * 48 - 1)))
    assert raised.value.code == "video_too_many_pixels"


# --- storage -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("video_format_name", "extension", "mime"),
    [
        ("MP4", "mp4", "video/mp4"),
        ("MOV", "mov", "video/quicktime"),
        ("WEBM", "webm", "video/webm"),
        ("MKV", "mkv", "video/x-matroska"),
    ],
)
def test_videos_are_stored_under_their_hash_when_allowed(
    samples, video_format_name, extension, mime
) -> None:
    content = samples[video_format_name]
    stored = media_store(content=content, allow_video=True)
    again = media_store(content=content, allow_video=True)
    assert stored.created and not again.created and again.media.pk == stored.media.pk
    sha256 = hashlib.sha256(content).hexdigest()
    media = stored.media
    assert media.file.name == f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}.{extension}"
    assert (media.kind, media.format, media.mime) == ("video", video_format_name, mime)
    assert (media.width, media.height, media.fps) == (64, 48, 25)
    assert media.duration_s == pytest.approx(1.2, abs=0.05)
    assert media_read(media) == content


@pytest.mark.django_db
def test_images_keep_their_kind_and_no_video_facts(make_image_bytes) -> None:
    media = media_store(content=make_image_bytes(32, 32, "PNG"), allow_video=True).media
    assert (media.kind, media.duration_s, media.fps) == ("image", None, None)


@pytest.mark.django_db
def test_callers_that_did_not_opt_in_still_refuse_videos(samples) -> None:
    for content in samples.values():
        with pytest.raises(ImageRejected):
            media_store(content=content)
    assert not MediaObject.objects.exists()
    media_store(content=samples["MP4"], allow_video=True)
    with pytest.raises(ImageRejected):  # known content, but not for this caller
        media_prepare(content=samples["MP4"])


@pytest.mark.django_db
def test_the_video_byte_cap_is_its_own(monkeypatch, settings, samples) -> None:
    monkeypatch.setattr(images, "MAX_UPLOAD_BYTES", 100)  # images only
    assert media_store(content=samples["WEBM"], allow_video=True).created
    settings.VIDEO_MAX_BYTES = len(samples["MKV"]) - 1
    with pytest.raises(VideoRejected) as raised:
        media_store(content=samples["MKV"], allow_video=True)
    assert raised.value.code == "video_too_large"
    assert MediaObject.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_video_stores_nothing(samples) -> None:
    content = hostile_videos.truncated_moov(samples["MP4"])
    with pytest.raises(VideoRejected) as raised:
        media_store(content=content, allow_video=True)
    assert raised.value.code == "corrupt"
    assert not MediaObject.objects.exists()
    assert not default_storage.exists("objects")


@pytest.mark.django_db
def test_a_stored_video_is_served_playable_and_sandboxed(samples) -> None:
    media = media_store(content=samples["WEBM"], allow_video=True).media
    response = media_file_response(
        file_name=stored_name(media.file), content_type=media.mime, stem="clip"
    )
    assert response["Content-Type"] == "video/webm"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "media-src 'self'" in response["Content-Security-Policy"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Content-Disposition"] == 'inline; filename="clip.webm"'
    assert isinstance(response, FileResponse)
    assert b"".join(response.streaming_content) == samples["WEBM"]  # type: ignore[arg-type]


def test_a_portrait_recording_is_read_upright_as_players_show_it(tmp_path) -> None:
    """Phones store portrait video coded sideways with a display matrix; frames, sizes and
    everything computed from them are upright."""
    upright = np.zeros((64, 48, 3), np.uint8)
    upright[:8, :8] = 255  # a white mark at the top left as shown
    coded = np.ascontiguousarray(np.rot90(upright, 1))  # what the sensor wrote
    path = vc.write_video(tmp_path / "portrait.mp4", iter([coded] * 5), fps=10)
    data = displayed_turned_clockwise(path.read_bytes())
    info = inspect_video(data)
    assert (info.width, info.height, info.rotation) == (64, 48, 270)
    assert (info.display_width, info.display_height) == (48, 64)
    frame = next(iter_frames(data)).rgb
    assert frame.shape == (64, 48, 3)
    assert frame[:8, :8].mean() > 200 and frame[-8:, -8:].mean() < 50
    plain = next(iter_frames(path.read_bytes())).rgb  # no display matrix: as coded
    assert plain.shape == (48, 64, 3)
