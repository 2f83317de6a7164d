"""Reference videos in storage, and decoding a video for matching.

A reference video is a `Reference` like an image, plus a `ReferenceVideo` row naming its
temporal fingerprint (factcheck.core.video_fingerprint: a PDQ hash per frame, shots, keyframes)
and its poster keyframe, both stored content-addressed as files. Its `Fingerprint` row (PDQ,
descriptor embedding, local features) describes the poster, so the image indexes find the video
from a still too.

Frames are decoded once, streamed (mediastore.videos.iter_frames, with intake's limits), hashed
and, every `sample_every_s`, kept as a smaller sample for whoever needs pictures of the video
(the poster here; detection and edit localisation in the analysis). `frames_near` decodes a
video again for the frames at given times. Stored fingerprints are read by reference id, for the
candidates the video indexes propose (factcheck.video_candidates), through a per-process cache
bounded by bytes (a fingerprint is immutable; the cache follows the table's rows).
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage

from factcheck.core.localize import aligned_reference
from factcheck.core.video_fingerprint import VideoFingerprint, video_fingerprint
from factcheck.core.video_localize import (
    SpatialAlignment,
)
from factcheck.embedding import configured_embedder, embedding_tag
from factcheck.models import ReferenceVideo
from factcheck.reference_source import BytesLRU
from mediastore.services import stored_once
from mediastore.videos import VideoFrame, iter_frames

logger = logging.getLogger(__name__)

VIDEO_FINGERPRINT_PREFIX = "video-fingerprints/v1"
# Frames are hashed and sampled at most this large (PDQ reads a 512-px grid anyway).
FRAME_MAX_SIDE = 512
# Samples for pictures of a video: at most this many, evenly spread in time.
MAX_SAMPLES = 120
NEAR_WINDOW_S = 1.0  # frames further than this from an asked time are never kept for it


@dataclass(frozen=True)
class SampleEmbeddings:
    """The global embedding (the learned descriptor, or CLIP) of each sampled frame of a video,
    in the space `tag`; `min_similarity` is that model's candidate threshold."""

    times_s: np.ndarray  # (n,) float64
    vectors: np.ndarray  # (n, d) float32, L2-normalised rows
    tag: str
    min_similarity: float

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            times_s=self.times_s,
            vectors=self.vectors,
            tag=np.array(self.tag),
            min_similarity=np.array(self.min_similarity),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> SampleEmbeddings:
        with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
            return cls(
                times_s=np.asarray(stored["times_s"], np.float64),
                vectors=np.asarray(stored["vectors"], np.float32),
                tag=str(stored["tag"]),
                min_similarity=float(stored["min_similarity"]),
            )


def sample_embeddings(samples: list[tuple[float, np.ndarray]]) -> SampleEmbeddings | None:
    """The configured embedding of each sample; None without an embedding or samples."""
    embedder = configured_embedder()
    if embedder is None or not samples:
        return None
    vectors = embedder.embed([rgb for _, rgb in samples]).astype(np.float32)
    times = np.array([time_s for time_s, _ in samples], np.float64)
    return SampleEmbeddings(times, vectors, embedding_tag(), float(embedder.min_similarity))


@dataclass
class VideoRead:
    """One decoding pass over a video: its fingerprint, the sampled frames (time, RGB) and their
    global embeddings (which find copies whose frames PDQ cannot line up, such as crops)."""

    fingerprint: VideoFingerprint
    samples: list[tuple[float, np.ndarray]] = field(default_factory=list)
    embeddings: SampleEmbeddings | None = None

    def sample_near(self, time_s: float) -> np.ndarray:
        """The sampled frame nearest `time_s` (there is always one: the first frame)."""
        return min(self.samples, key=lambda sample: abs(sample[0] - time_s))[1]


def sample_interval(duration_s: float, every_s: float) -> float:
    """`every_s`, widened so a long video yields at most MAX_SAMPLES samples."""
    return max(every_s, duration_s / MAX_SAMPLES)


def _tapped(
    frames: Iterator[VideoFrame], every_s: float, samples: list[tuple[float, np.ndarray]]
) -> Iterator[VideoFrame]:
    next_sample = 0.0
    for frame in frames:
        if frame.time_s >= next_sample:
            samples.append((frame.time_s, frame.rgb))
            next_sample = frame.time_s + every_s
        yield frame


def video_read(content: bytes, *, fps: float, sample_every_s: float) -> VideoRead:
    """Decode, fingerprint and sample a video that passed intake (raises VideoRejected at a
    decoding limit)."""
    samples: list[tuple[float, np.ndarray]] = []
    frames = _tapped(iter_frames(content, max_side=FRAME_MAX_SIDE), sample_every_s, samples)
    fingerprint = video_fingerprint(frames, fps=fps or None)
    return VideoRead(fingerprint, samples, sample_embeddings(samples))


def video_samples(content: bytes, *, sample_every_s: float) -> list[tuple[float, np.ndarray]]:
    """The frames `video_read` keeps for the detectors, without hashing or embedding them (for
    evaluations that need the detectors' view of a video only)."""
    samples: list[tuple[float, np.ndarray]] = []
    for _ in _tapped(iter_frames(content, max_side=FRAME_MAX_SIDE), sample_every_s, samples):
        pass
    return samples


def video_fingerprint_storage_name(sha256: str) -> str:
    return f"{VIDEO_FINGERPRINT_PREFIX}/{sha256[:2]}/{sha256}.npz"


def video_fingerprint_store(sha256: str, fingerprint: VideoFingerprint) -> str:
    """Write the fingerprint file (content-addressed: an existing one is the same)."""
    return stored_once(video_fingerprint_storage_name(sha256), fingerprint.to_bytes())


def video_fingerprint_read(sha256: str) -> VideoFingerprint | None:
    """The fingerprint file of that video if one was written (None when there is none, or it is
    damaged: the caller fingerprints the video again)."""
    try:
        return VideoFingerprint.from_bytes(_read(video_fingerprint_storage_name(sha256)))
    except (OSError, ValueError) as error:
        if not isinstance(error, FileNotFoundError):
            logger.warning("video fingerprint %s unreadable: %s", sha256, error)
        return None


def samples_store(sha256: str, embeddings: SampleEmbeddings | None) -> str:
    """Write a reference video's sample embeddings ("" without any)."""
    if embeddings is None:
        return ""
    name = f"{VIDEO_FINGERPRINT_PREFIX}/{sha256[:2]}/{sha256}-samples-{_safe(embeddings.tag)}.npz"
    return stored_once(name, embeddings.to_bytes())


def _safe(tag: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in tag)[:60]


def poster_storage_name(sha256: str) -> str:
    return f"{VIDEO_FINGERPRINT_PREFIX}/{sha256[:2]}/{sha256}-poster.png"


def poster_store(sha256: str, poster: np.ndarray) -> str:
    """Write the poster keyframe (lossless: its local features are computed from it again)."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(poster[:, :, ::-1]))
    if not ok:
        raise RuntimeError("PNG encoding of a poster failed")
    return stored_once(poster_storage_name(sha256), encoded.tobytes())


def poster_time(fingerprint: VideoFingerprint) -> float:
    """The first keyframe's time (0 for a video without one)."""
    times = fingerprint.keyframe_times_s
    return float(times[0]) if len(times) else 0.0


@dataclass(frozen=True)
class StoredVideo:
    """A reference video's fingerprint and sample embeddings, as stored."""

    fingerprint: VideoFingerprint
    embeddings: SampleEmbeddings | None

    @property
    def nbytes(self) -> int:
        """What it holds in memory (its arrays), for the cache's bound."""
        frames = self.fingerprint.frames
        arrays = [frames.times_s, frames.frame_numbers, frames.qualities, frames.hashes]
        optional = (frames.mirrored, frames.content, frames.content_mirrored, frames.colour_changes)
        arrays += [array for array in optional if array is not None]
        if self.embeddings is not None:
            arrays += [self.embeddings.vectors, self.embeddings.times_s]
        return sum(int(array.nbytes) for array in arrays)


def stored_video_read(fingerprint_name: str, samples_name: str) -> StoredVideo:
    """A reference video's fingerprint and sample embeddings from storage (ValueError for a file
    that is not one, FileNotFoundError for one that is gone)."""
    return StoredVideo(
        VideoFingerprint.from_bytes(_read(fingerprint_name)),
        SampleEmbeddings.from_bytes(_read(samples_name)) if samples_name else None,
    )


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


_cache: BytesLRU | None = None
_cache_lock = threading.Lock()


def _stored_cache() -> BytesLRU:
    global _cache
    with _cache_lock:
        if _cache is None or _cache.max_bytes != settings.FACTCHECK_VIDEO_CACHE_BYTES:
            _cache = BytesLRU(settings.FACTCHECK_VIDEO_CACHE_BYTES)
        return _cache


def stored_videos(reference_ids: Iterable[int]) -> dict[int, StoredVideo]:
    """The fingerprint and sample embeddings of those of `reference_ids` that are reference
    videos (one query), read from storage on a miss of the per-process cache
    (FACTCHECK_VIDEO_CACHE_BYTES, least recently used out first). Files are immutable and named
    by content, so entries are keyed by the file names: a removed reference is simply not in the
    table any more."""
    ids = sorted({int(ref_id) for ref_id in reference_ids})
    if not ids:
        return {}
    rows = ReferenceVideo.objects.filter(reference_id__in=ids).values_list(
        "reference_id", "fingerprint_file", "samples_file"
    )
    cache = _stored_cache()
    found = {}
    for ref_id, fingerprint_name, samples_name in rows:
        try:
            found[ref_id] = cache.get_or_load(
                f"{fingerprint_name}|{samples_name}",
                functools.partial(stored_video_read, fingerprint_name, samples_name),
                _nbytes,
            )
        except (OSError, ValueError) as error:  # a lost or damaged file: the others still match
            logger.warning("reference video %s unreadable: %s", ref_id, error)
    return found


def _nbytes(video: StoredVideo) -> int:
    return video.nbytes


def frames_near(
    content: bytes, times_s: Sequence[float], *, per_time: int = 1
) -> dict[float, list[tuple[float, np.ndarray]]]:
    """For each of `times_s`, the `per_time` frames of the video nearest it, nearest first, as
    (frame time, RGB at FRAME_MAX_SIDE): one decoding pass, frames kept only when asked for."""
    wanted = sorted(set(times_s))
    near: dict[float, list[tuple[float, np.ndarray]]] = {asked: [] for asked in wanted}
    if not wanted:
        return near
    cursor = 0
    for frame in iter_frames(content, max_side=FRAME_MAX_SIDE):
        # Frames arrive in time order: each asked time keeps the closest frames seen so far.
        while cursor < len(wanted) and wanted[cursor] < frame.time_s - NEAR_WINDOW_S:
            cursor += 1
        if cursor >= len(wanted):
            break
        for asked in wanted[cursor:]:
            if asked > frame.time_s + NEAR_WINDOW_S:
                break
            kept = near[asked]
            kept.append((frame.time_s, frame.rgb))
            kept.sort(key=functools.partial(_time_gap, asked))
            del kept[per_time:]
    return {asked: kept for asked, kept in near.items() if kept}


def _time_gap(asked: float, entry: tuple[float, np.ndarray]) -> float:
    return abs(entry[0] - asked)


def closest_frame(
    query: np.ndarray,
    frames: list[tuple[float, np.ndarray]],
    view: Callable[[np.ndarray], np.ndarray],
    spatial: SpatialAlignment,
) -> tuple[float, np.ndarray]:
    """(time, frame) of the frame that differs least from `query` under `spatial`."""
    return min(frames, key=lambda entry: frame_difference(query, view(entry[1]), spatial.transform))


def frame_difference(image: np.ndarray, reference: np.ndarray, transform: np.ndarray) -> float:
    """Mean absolute grey difference of `image` and `reference` warped onto it, where both are."""
    warped = aligned_reference(reference, transform, image.shape)
    inside = warped.any(axis=2)
    if not inside.any():
        return float("inf")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    warped_grey = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(grey - warped_grey)[inside].mean())


def scaled_region(region: dict[str, Any], scale: float) -> dict[str, Any]:
    return {**region, "bbox": [round(float(v) * scale, 1) for v in region["bbox"]]}
