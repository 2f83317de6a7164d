"""Video fingerprints, vPDQ interoperability and temporal matching, on really encoded videos.

The videos are generated (pans and zooms over the test split's permitted stills, procedural
shapes, shot cuts), encoded with PyAV and decoded again; the matcher's thresholds were tuned on
the other split (`videocases.TUNE_STILLS`), never on these.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from factcheck.core.fingerprints import pdq_dihedral_hashes
from factcheck.core.video_fingerprint import (
    Frame,
    VideoFingerprint,
    trim_bands,
    video_fingerprint,
)
from factcheck.core.video_match import frame_lookup, image_spans, video_match
from factcheck.core.vpdq_format import (
    from_hma_signal,
    pdq_hex,
    read_vpdq,
    to_hma_signal,
    vpdq_compare,
    vpdq_prune,
    write_vpdq,
)
from factcheck.evaluation import videocases as vc

SIZE = (224, 160)
FPS = 10.0
SHOT_S = 3.5
OFFSET_TOLERANCE_S = 0.2
# A line of vPDQ's sample output (vpdq/sample-hashes/chair-22-sd-grey-bar.txt).
VPDQ_SAMPLE_LINE = "0,100,25ad26b96f58d2491a79f80f07f2c9936fe6083dfb4983d8a4a36db40034df54,0.000"

Fingerprint = Callable[..., VideoFingerprint]


def _scene(seed: int, stills: tuple[str, ...]) -> tuple[vc.Scene, float]:
    shots = [
        (SHOT_S, vc.pan_zoom(vc.load_still(name), size=SIZE, seed=seed + i, seconds=SHOT_S))
        for i, name in enumerate(stills)
    ]
    return vc.with_cuts([*shots, (3.0, vc.moving_shapes(size=SIZE, seed=seed))])


@pytest.fixture(scope="module")
def make(tmp_path_factory: pytest.TempPathFactory) -> Fingerprint:
    """Render, encode, decode and fingerprint a copy of a scene."""
    directory = tmp_path_factory.mktemp("videos")
    count = iter(range(1000))

    def fingerprint(
        scene: vc.Scene,
        time_map: vc.TimeMap,
        transform: vc.PixelTransform | None = None,
        *,
        codec: str = "libx264",
        crf: int = 23,
    ) -> VideoFingerprint:
        suffix = ".mp4" if codec == "libx264" else ".webm"
        path = directory / f"{next(count)}{suffix}"
        images = vc.render(scene, time_map, fps=FPS, transform=transform)
        vc.write_video(path, images, fps=FPS, codec=codec, crf=crf)
        return video_fingerprint(vc.read_frames(path))

    return fingerprint


@pytest.fixture(scope="module")
def original() -> tuple[vc.Scene, float]:
    return _scene(vc.TEST_SEED_BASE, ("chelsea", "coins"))


@pytest.fixture(scope="module")
def reference(make: Fingerprint, original: tuple[vc.Scene, float]) -> VideoFingerprint:
    scene, seconds = original
    return make(scene, vc.identity_map(seconds))


# --- the attacker's cases first: what would make the matcher claim a wrong alignment ---------


def _still_video(image: np.ndarray, seconds: float) -> vc.Scene:
    del seconds
    return lambda time_s: image


def test_a_static_video_is_a_still_not_a_temporal_match(make: Fingerprint) -> None:
    """Every offset fits a static video equally: no alignment is claimed, the frame is found."""
    still = vc.load_still("camera")[:320, :448]
    scene = _still_video(vc.crop(0.9)(still), 6.0)
    static = make(scene, vc.identity_map(6.0))
    copy = make(scene, vc.identity_map(5.0), vc.downscale(0.5), crf=30)
    assert video_match(copy, static) is None
    hashes, _ = pdq_dihedral_hashes(vc.crop(0.9)(still))
    match = frame_lookup(hashes, static)
    assert match is not None and match.distance <= 31


def test_a_black_screen_matches_nothing(make: Fingerprint, reference: VideoFingerprint) -> None:
    black = make(lambda time_s: np.zeros((SIZE[1], SIZE[0], 3), np.uint8), vc.identity_map(4.0))
    assert (black.frames.qualities < 50).all()
    assert video_match(black, reference) is None
    assert video_match(black, black) is None


def test_one_frame_held_for_seconds_is_found_as_a_frame_not_a_copy(
    make: Fingerprint, original: tuple[vc.Scene, float], reference: VideoFingerprint
) -> None:
    scene, _ = original
    frame = scene(5.0)
    held = make(lambda time_s: frame, vc.identity_map(5.0))
    assert video_match(held, reference) is None
    hashes, _ = pdq_dihedral_hashes(frame)
    match = frame_lookup(hashes, reference)
    assert match is not None and abs(match.time_s - 5.0) <= 0.3
    spans = image_spans(hashes, held)
    assert len(spans) == 1 and spans[0].start_s == 0.0 and spans[0].end_s >= 4.8


def test_a_looped_clip_aligns_but_says_it_is_ambiguous(make: Fingerprint) -> None:
    clip = vc.pan_zoom(vc.load_still("hubble_deep_field"), size=SIZE, seed=7, seconds=2.5)
    looped = make(
        lambda time_s: clip(time_s % 2.5), vc.identity_map(10.0)
    )  # the clip four times over
    once = make(clip, vc.identity_map(2.5), vc.downscale(0.5), crf=30)
    alignment = video_match(once, looped)
    assert alignment is not None and alignment.ambiguous
    assert round(alignment.offset_s / 2.5) * 2.5 == pytest.approx(alignment.offset_s, abs=0.2)


def test_a_video_without_frames_has_an_empty_fingerprint(reference: VideoFingerprint) -> None:
    empty = video_fingerprint(iter(()))
    assert len(empty.frames) == 0 and empty.duration_s == 0.0 and len(empty.keyframes) == 0
    assert video_match(empty, reference) is None and video_match(reference, empty) is None
    assert VideoFingerprint.from_bytes(empty.to_bytes()).frames.hashes.shape == (0, 32)


def test_an_unrelated_video_does_not_match(make: Fingerprint, reference: VideoFingerprint) -> None:
    scene, seconds = _scene(vc.TEST_SEED_BASE + 50, ("camera", "retina"))
    unrelated = make(scene, vc.identity_map(seconds))
    assert video_match(unrelated, reference) is None
    assert not vpdq_compare(unrelated.frames, reference.frames).is_match()


# --- copies -------------------------------------------------------------------------------


def test_a_reencoded_downscaled_copy_matches_with_its_offset(
    make: Fingerprint, original: tuple[vc.Scene, float], reference: VideoFingerprint
) -> None:
    scene, seconds = original
    copy = make(scene, vc.identity_map(seconds), vc.downscale(0.5), codec="libvpx-vp9")
    alignment = video_match(copy, reference)
    assert alignment is not None and not alignment.mirrored and not alignment.ambiguous
    assert abs(alignment.offset_s) <= OFFSET_TOLERANCE_S
    assert alignment.speed == pytest.approx(1.0, abs=0.02)
    assert alignment.score >= 0.7 and len(alignment.segments) == 1
    errors = [abs(pair.reference_time_s - pair.query_time_s) for pair in alignment.pairs]
    assert np.median(errors) <= OFFSET_TOLERANCE_S
    assert vpdq_compare(copy.frames, reference.frames).is_match()


def test_a_trimmed_copy_gives_the_offset_of_its_start(
    make: Fingerprint, original: tuple[vc.Scene, float], reference: VideoFingerprint
) -> None:
    scene, _ = original
    trimmed = make(scene, vc.trim_map(2.4, 5.0), crf=30)
    alignment = video_match(trimmed, reference)
    assert alignment is not None
    assert alignment.offset_s == pytest.approx(2.4, abs=OFFSET_TOLERANCE_S)
    segment = alignment.segments[0]
    assert segment.ref_start_s == pytest.approx(2.4, abs=OFFSET_TOLERANCE_S)
    assert segment.end_s >= 4.5


def test_a_copy_recut_from_two_pieces_gives_two_segments(
    make: Fingerprint, original: tuple[vc.Scene, float], reference: VideoFingerprint
) -> None:
    scene, _ = original
    recut = make(scene, vc.recut_map((3.8, 3.2), (0.5, 2.5)), crf=30)
    alignment = video_match(recut, reference)
    assert alignment is not None and len(alignment.segments) == 2
    first, second = alignment.segments
    assert first.start_s == pytest.approx(0.0, abs=0.3)
    assert first.ref_start_s == pytest.approx(3.8 + first.start_s, abs=OFFSET_TOLERANCE_S)
    assert second.start_s == pytest.approx(3.2, abs=0.3)
    assert second.ref_start_s == pytest.approx(0.5 + (second.start_s - 3.2), abs=OFFSET_TOLERANCE_S)
    assert alignment.offset_s == pytest.approx(3.8, abs=OFFSET_TOLERANCE_S)  # the longer piece


def test_a_sped_up_copy_gives_its_speed(
    make: Fingerprint, original: tuple[vc.Scene, float], reference: VideoFingerprint
) -> None:
    scene, seconds = original
    fast = make(scene, vc.speed_map(1.08, seconds), crf=30)
    alignment = video_match(fast, reference)
    assert alignment is not None
    assert alignment.speed == pytest.approx(1.08, abs=0.01)
    assert abs(alignment.offset_s) <= OFFSET_TOLERANCE_S


def test_a_mirrored_letterboxed_captioned_copy_still_matches(
    make: Fingerprint, original: tuple[vc.Scene, float], reference: VideoFingerprint
) -> None:
    scene, seconds = original
    transform = vc.compose(vc.crop(0.98), vc.mirror, vc.border(), vc.caption())
    copy = make(scene, vc.identity_map(seconds), transform, crf=30)
    alignment = video_match(copy, reference)
    assert alignment is not None and alignment.mirrored
    assert abs(alignment.offset_s) <= OFFSET_TOLERANCE_S
    assert alignment.score >= 0.5


def test_bands_come_off_before_the_content_hash() -> None:
    picture = vc.load_still("chelsea")
    framed = vc.compose(vc.border(0.1), vc.caption())(picture)
    inner = trim_bands(framed)
    assert inner.shape[0] < framed.shape[0] * 0.8 and inner.shape[1] < framed.shape[1]
    assert trim_bands(picture) is picture


# --- fingerprint: shots, keyframes, storage -------------------------------------------------


def test_shots_start_at_the_cuts_and_keyframes_follow_them(reference: VideoFingerprint) -> None:
    starts = reference.shot_start_times_s
    assert starts == pytest.approx([0.0, SHOT_S, 2 * SHOT_S], abs=1.5 / FPS)
    keyframes = reference.keyframe_times_s
    for start in starts:
        assert np.any((keyframes >= start) & (keyframes <= start + 0.5))
    assert len(reference.keyframe_indices) == len(keyframes)
    assert reference.fps == pytest.approx(FPS, abs=0.01)
    assert reference.duration_s == pytest.approx(2 * SHOT_S + 3.0, abs=0.11)


def test_fingerprint_bytes_round_trip(reference: VideoFingerprint) -> None:
    restored = VideoFingerprint.from_bytes(reference.to_bytes())
    assert restored.fps == reference.fps and restored.duration_s == reference.duration_s
    for name in ("frame_numbers", "times_s", "qualities", "hashes", "content_mirrored"):
        assert np.array_equal(getattr(restored.frames, name), getattr(reference.frames, name))
    assert np.array_equal(restored.keyframes, reference.keyframes)
    assert video_match(restored, reference) is not None
    with pytest.raises(ValueError, match="not a video fingerprint"):
        VideoFingerprint.from_bytes(b"PK\x03\x04 not an npz")


def test_sampling_every_second_hashes_one_frame_per_second(
    original: tuple[vc.Scene, float],
) -> None:
    scene, _ = original
    frames = (Frame(i / FPS, i, scene(i / FPS)) for i in range(40))
    sampled = video_fingerprint(frames, every_s=1.0)
    assert sampled.frames.frame_numbers.tolist() == [0, 10, 20, 30]
    assert sampled.fps == pytest.approx(FPS)


# --- vPDQ -----------------------------------------------------------------------------------


def test_vpdq_sample_line_reads_and_writes_back_unchanged() -> None:
    frames = read_vpdq(VPDQ_SAMPLE_LINE + "\n")
    assert frames.frame_numbers.tolist() == [0] and frames.qualities.tolist() == [100]
    assert pdq_hex(frames.hashes[0]) == VPDQ_SAMPLE_LINE.split(",")[2]
    assert write_vpdq(frames) == VPDQ_SAMPLE_LINE + "\n"


def test_vpdq_file_and_hma_signal_round_trip(reference: VideoFingerprint) -> None:
    text = write_vpdq(reference.frames)
    first = text.splitlines()[0].split(",")
    assert len(first) == 4 and len(first[2]) == 64 and first[3] == "0.000"
    restored = read_vpdq(text)
    assert np.array_equal(restored.hashes, reference.frames.hashes)
    assert np.allclose(restored.times_s, reference.frames.times_s, atol=5e-4)
    signal = from_hma_signal(to_hma_signal(reference.frames))
    assert np.array_equal(signal.hashes, reference.frames.hashes)
    comparison = vpdq_compare(restored, reference.frames)
    assert comparison.query_match_percent == comparison.compared_match_percent == 100.0


@pytest.mark.parametrize(
    "line",
    [
        "0,100,25ad,0.000",
        "0,101,25ad26b96f58d2491a79f80f07f2c9936fe6083dfb4983d8a4a36db40034df54,0.000",
        "0,100,25ad26b96f58d2491a79f80f07f2c9936fe6083dfb4983d8a4a36db40034df54",
        "x,100,25ad26b96f58d2491a79f80f07f2c9936fe6083dfb4983d8a4a36db40034df54,0.0",
    ],
)
def test_malformed_vpdq_lines_are_refused_with_their_line(line: str) -> None:
    with pytest.raises(ValueError, match="vPDQ line 2"):
        read_vpdq(VPDQ_SAMPLE_LINE + "\n" + line + "\n")


def test_vpdq_prune_drops_near_repeats(reference: VideoFingerprint) -> None:
    pruned = vpdq_prune(reference.frames, 31)
    assert 3 <= len(pruned) < len(reference.frames)
    assert vpdq_compare(pruned, reference.frames).is_match()


def test_the_generated_files_are_real_videos(tmp_path: Path) -> None:
    images = iter([np.zeros((32, 48, 3), np.uint8)] * 3)
    path = vc.write_video(tmp_path / "a.webm", images, fps=5, codec="libvpx-vp9")
    frames = list(vc.read_frames(path))
    assert [frame.rgb.shape for frame in frames] == [(32, 48, 3)] * 3
