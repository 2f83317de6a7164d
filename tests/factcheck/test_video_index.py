"""The video indexes (`video_frames`, `video_samples`): built, updated, compacted and switched
like the image indexes, and the candidates they give temporal matching, on real PostgreSQL.

Reference videos here are synthetic: random frame hashes and sample embeddings stored as the
files a real video's would be, so a collection of dozens costs milliseconds. Real videos go
through the same code in tests/moderation/test_video_analysis.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from factcheck import services, video_references, video_stills, video_store
from factcheck.core import index_store
from factcheck.core.index_manifest import Manifest, manifest_path
from factcheck.core.index_store import read_manifest
from factcheck.core.video_fingerprint import FrameHashes, VideoFingerprint, fingerprint_from_hashes
from factcheck.indexing import (
    SPACE_PARAM,
    VIDEO_FRAMES_INDEX,
    VIDEO_SAMPLES_INDEX,
    index_dir,
    index_rebuild,
    index_update,
    indexed_reference_ids,
)
from factcheck.models import Fingerprint, Reference, ReferenceVideo
from factcheck.video_candidates import (
    still_video_candidates,
    video_frame_candidates,
    video_sample_candidates,
)
from factcheck.video_store import (
    SampleEmbeddings,
    VideoRead,
    samples_store,
    stored_videos,
    video_fingerprint_store,
)
from mediastore.models import MediaObject

# Index updates and compactions run on commit: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

FPS = 10
FRAMES = 60
SPACE_A, DIM_A = "space-a", 8
SPACE_B, DIM_B = "space-b", 12


@pytest.fixture(autouse=True)
def synthetic_collection(embedding_off):
    """Synthetic references have no pictures: the local-descriptor index is off, and the
    embedding space is a name only (no model is loaded)."""
    embedding_off.FACTCHECK_LOCAL_INDEX_MAX_REFERENCES = 0
    embedding_off.CLIP_MODEL_NAME = SPACE_A
    return embedding_off


@pytest.fixture
def deltas_kept(monkeypatch) -> None:
    """Small test collections would otherwise be compacted on every update."""
    monkeypatch.setattr(index_store, "DELTA_MAX_FRACTION", 100.0)


def random_hashes(seed: int, count: int = FRAMES) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 32), dtype=np.uint8)


def fingerprint_of(hashes: np.ndarray, mirrored: np.ndarray) -> VideoFingerprint:
    count = len(hashes)
    frames = FrameHashes(
        frame_numbers=np.arange(count, dtype=np.int64),
        times_s=np.arange(count, dtype=np.float64) / FPS,
        qualities=np.full(count, 100, np.int64),
        hashes=hashes,
        mirrored=mirrored,
        content=hashes.copy(),
        content_mirrored=mirrored.copy(),
    )
    return fingerprint_from_hashes(frames, fps=FPS, duration_s=count / FPS)


def sample_vectors(seed: int, dim: int, count: int = 6) -> np.ndarray:
    vectors = np.random.default_rng(seed + 10_000).normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def samples_of(seed: int, space: str, dim: int) -> SampleEmbeddings:
    vectors = sample_vectors(seed, dim)
    return SampleEmbeddings(np.arange(len(vectors), dtype=np.float64), vectors, space, 0.9)


def add_video(seed: int, *, space: str = SPACE_A, dim: int = DIM_A) -> Reference:
    """A committed reference video (its rows and files), in the outbox like any new one: its
    index update is the test's to run."""
    sha256 = f"{seed:064x}"
    fingerprint = fingerprint_of(random_hashes(seed), random_hashes(seed + 5_000))
    media = MediaObject.objects.create(
        sha256=sha256,
        file=f"media/{sha256}.mp4",
        mime="video/mp4",
        kind=MediaObject.Kind.VIDEO,
        format="MP4",
        size=1,
        width=320,
        height=240,
        duration_s=FRAMES / FPS,
        fps=FPS,
    )
    reference = Reference.objects.create(media=media, source="Agency", external_id=f"v{seed}")
    Fingerprint.objects.create(
        reference=reference,
        pdq=random_hashes(seed, 1)[0].tobytes(),
        pdq_quality=100,
        features_file=f"features/{sha256}.npz",
    )
    ReferenceVideo.objects.create(
        reference=reference,
        fingerprint_file=video_fingerprint_store(sha256, fingerprint),
        samples_file=samples_store(sha256, samples_of(seed, space, dim)),
        poster_file=f"posters/{sha256}.png",
        duration_s=FRAMES / FPS,
        fps=FPS,
        frames=FRAMES,
        keyframes=len(fingerprint.keyframes),
    )
    return reference


def copy_of(seed: int, *, start: int = 10, end: int = 50, bits: int = 6) -> VideoRead:
    """A re-encoded excerpt of video `seed`: its frames `start`..`end`, each hash `bits` bits
    off."""
    rng = np.random.default_rng(seed + 20_000)

    def noisy(hashes: np.ndarray) -> np.ndarray:
        unpacked = np.unpackbits(hashes[start:end], axis=1)
        for row in unpacked:
            row[rng.choice(256, bits, replace=False)] ^= 1
        return np.packbits(unpacked, axis=1)

    fingerprint = fingerprint_of(noisy(random_hashes(seed)), noisy(random_hashes(seed + 5_000)))
    return VideoRead(fingerprint)


def published(name: str) -> Manifest:
    manifest = read_manifest(index_dir(), name)
    assert manifest is not None, name
    return manifest


def test_a_rebuild_indexes_every_reference_video_s_frames_and_samples() -> None:
    ids = {add_video(seed).pk for seed in range(3)}
    change = index_rebuild()
    names = {summary.name for summary in change.summaries}
    assert {"video_frames", "video_samples"} <= names and "embedding" not in names
    assert indexed_reference_ids(VIDEO_FRAMES_INDEX) == ids
    assert indexed_reference_ids(VIDEO_SAMPLES_INDEX) == ids
    frames, samples = published(VIDEO_FRAMES_INDEX), published(VIDEO_SAMPLES_INDEX)
    assert frames.count == 3 * FRAMES  # random frames are all distinct: none thinned
    assert samples.count == 3 * 6 and samples.params[SPACE_PARAM] == SPACE_A
    assert not Fingerprint.objects.filter(indexed=False).exists()


def test_a_still_shot_is_indexed_once(settings) -> None:
    reference = add_video(0)
    held = fingerprint_of(np.repeat(random_hashes(1, 1), FRAMES, axis=0), random_hashes(2))
    name = video_fingerprint_store("f" * 64, held)
    ReferenceVideo.objects.filter(reference=reference).update(fingerprint_file=name)
    index_rebuild()
    assert published(VIDEO_FRAMES_INDEX).count == 1


def test_an_added_video_is_a_delta_and_a_removed_one_is_never_a_candidate_again(
    deltas_kept,
) -> None:
    kept = add_video(1)
    index_rebuild()
    bases = {name: published(name) for name in (VIDEO_FRAMES_INDEX, VIDEO_SAMPLES_INDEX)}
    added = add_video(2)
    assert video_frame_candidates(copy_of(2).fingerprint) == []  # not published yet
    index_update(add_ids=[added.pk])
    for name, base in bases.items():
        manifest = published(name)
        assert manifest.file == base.file and len(manifest.deltas) == 1, name  # base untouched
        assert indexed_reference_ids(name) == {kept.pk, added.pk}, name
    assert video_frame_candidates(copy_of(2).fingerprint)[:1] == [added.pk]
    assert [m.reference_id for m in video_references.video_matches(copy_of(2), interval_s=1)] == [
        added.pk
    ]

    assert video_sample_candidates(samples_of(2, SPACE_A, DIM_A))[:1] == [added.pk]

    added_id = added.pk
    services.reference_remove(reference=added)  # its index update runs on commit
    for name in (VIDEO_FRAMES_INDEX, VIDEO_SAMPLES_INDEX):
        assert indexed_reference_ids(name) == {kept.pk}, name
        assert published(name).hidden_rows > 0, name
    assert added_id not in video_frame_candidates(copy_of(2).fingerprint)
    assert video_references.video_matches(copy_of(2), interval_s=1) == []
    assert added_id not in video_sample_candidates(samples_of(2, SPACE_A, DIM_A))
    assert stored_videos([added_id, kept.pk]).keys() == {kept.pk}


def test_updates_past_the_delta_limits_compact_the_video_indexes() -> None:
    first = add_video(1)
    index_rebuild()
    base = published(VIDEO_FRAMES_INDEX)
    second = add_video(2)
    # A delta of one video is more than DELTA_MAX_FRACTION of a base of one: the update's
    # compaction runs once it commits (here at once, with no transaction open).
    index_update(add_ids=[second.pk])
    for name in (VIDEO_FRAMES_INDEX, VIDEO_SAMPLES_INDEX):
        manifest = published(name)
        assert manifest.deltas == () and manifest.base_rows == manifest.count, name
        assert indexed_reference_ids(name) == {first.pk, second.pk}, name
    assert published(VIDEO_FRAMES_INDEX).file != base.file
    assert video_frame_candidates(copy_of(1).fingerprint)[:1] == [first.pk]


def test_an_embedding_space_switch_rebuilds_the_sample_index(synthetic_collection) -> None:
    old = {add_video(seed).pk for seed in range(2)}
    index_rebuild()
    assert video_sample_candidates(samples_of(0, SPACE_A, DIM_A))[:1] == [min(old)]
    synthetic_collection.CLIP_MODEL_NAME = SPACE_B
    # Until the writer rebuilds it, the published index holds another space: not searched.
    assert video_sample_candidates(samples_of(0, SPACE_B, DIM_A)) == []
    new = add_video(7, space=SPACE_B, dim=DIM_B)
    index_update(add_ids=[new.pk])
    manifest = published(VIDEO_SAMPLES_INDEX)
    assert manifest.params[SPACE_PARAM] == SPACE_B and int(manifest.params["dim"]) == DIM_B
    assert indexed_reference_ids(VIDEO_SAMPLES_INDEX) == {new.pk}  # never mixed
    assert indexed_reference_ids(VIDEO_FRAMES_INDEX) == old | {new.pk}
    assert video_sample_candidates(samples_of(7, SPACE_B, DIM_B)) == [new.pk]


def test_only_the_candidates_are_aligned_in_time(settings, monkeypatch) -> None:
    settings.FACTCHECK_VIDEO_CANDIDATES = 3
    ids = [add_video(seed).pk for seed in range(40)]
    index_rebuild()
    aligned: list[int] = []
    real_match = video_references.video_match

    def counting(query, reference, *args):
        aligned.append(len(reference.frames))
        return real_match(query, reference, *args)

    monkeypatch.setattr(video_references, "video_match", counting)
    found = video_references.video_matches(copy_of(17), interval_s=1.0)
    assert [match.reference_id for match in found] == [ids[17]]
    assert found[0].alignment.offset_s == pytest.approx(1.0, abs=0.15)
    assert 1 <= len(aligned) <= 3


def test_an_image_is_looked_up_only_in_the_videos_the_index_proposes(settings, monkeypatch):
    settings.FACTCHECK_VIDEO_CANDIDATES = 2
    ids = [add_video(seed).pk for seed in range(30)]
    index_rebuild()
    frame = random_hashes(12)[25]
    dihedral = np.stack([frame, *random_hashes(99, 7)])  # as posted first, then 7 others
    assert still_video_candidates(dihedral, skip=set())[:1] == [ids[12]]
    assert still_video_candidates(dihedral, skip={ids[12]}) == []
    looked_up: list[int] = []
    real_lookup = video_stills.frame_lookup

    def counting(hashes, reference, *args):
        looked_up.append(len(reference.frames))
        return real_lookup(hashes, reference, *args)

    monkeypatch.setattr(video_stills, "frame_lookup", counting)
    monkeypatch.setattr(video_stills, "pdq_dihedral_hashes", lambda image: (dihedral, 100))
    found: list[tuple[int, float]] = []
    monkeypatch.setattr(
        video_stills,
        "_frame_match",
        lambda image, reference, time_s, similarity: found.append((reference.pk, time_s)),
    )
    video_stills.video_frame_matches(np.zeros((8, 8, 3), np.uint8), skip=set())
    assert found == [(ids[12], pytest.approx(2.5))]
    assert len(looked_up) == 1


def test_a_damaged_fingerprint_file_leaves_the_other_videos_searchable(caplog) -> None:
    # Seeds of their own: the per-process cache holds other tests' files by name.
    damaged, intact = add_video(91), add_video(92)
    name = ReferenceVideo.objects.get(reference=damaged).fingerprint_file
    with default_storage.open(name, "wb") as handle:
        handle.write(b"not a fingerprint")
    index_rebuild()
    assert indexed_reference_ids(VIDEO_FRAMES_INDEX) == {intact.pk}
    assert f"reference video {damaged.pk} not indexed" in caplog.text
    assert stored_videos([damaged.pk, intact.pk]).keys() == {intact.pk}
    found = video_references.video_matches(copy_of(92), interval_s=1.0)
    assert [match.reference_id for match in found] == [intact.pk]


def test_an_update_builds_the_video_indexes_an_upgrade_lacks() -> None:
    old = add_video(1)
    index_rebuild()
    for name in (VIDEO_FRAMES_INDEX, VIDEO_SAMPLES_INDEX):
        manifest_path(index_dir(), name).unlink()  # as before the video indexes existed
    new = add_video(2)
    index_update(add_ids=[new.pk])
    for name in (VIDEO_FRAMES_INDEX, VIDEO_SAMPLES_INDEX):
        assert indexed_reference_ids(name) == {old.pk, new.pk}, name


def test_a_mirrored_copy_is_a_candidate_and_aligns_mirrored() -> None:
    ids = [add_video(seed).pk for seed in range(5)]
    index_rebuild()
    copy = copy_of(3).fingerprint
    frames = copy.frames
    assert frames.mirrored is not None
    swapped = FrameHashes(  # posted mirrored: its hashes are the original's mirrored ones
        frame_numbers=frames.frame_numbers,
        times_s=frames.times_s,
        qualities=frames.qualities,
        hashes=frames.mirrored,
        mirrored=frames.hashes,
        content=frames.content_mirrored,
        content_mirrored=frames.content,
    )
    mirrored = VideoRead(fingerprint_from_hashes(swapped, fps=FPS, duration_s=copy.duration_s))
    assert video_frame_candidates(mirrored.fingerprint)[:1] == [ids[3]]
    (found,) = video_references.video_matches(mirrored, interval_s=1.0)
    assert found.reference_id == ids[3] and found.alignment.mirrored is True


def test_loaded_videos_are_cached_up_to_the_byte_bound(settings) -> None:
    ids = [add_video(seed).pk for seed in range(81, 84)]
    one = stored_videos(ids[:1])[ids[0]]
    settings.FACTCHECK_VIDEO_CACHE_BYTES = 2 * one.nbytes + 1
    loaded = stored_videos(ids)
    assert loaded.keys() == set(ids)
    cache = video_store._stored_cache()
    assert len(cache) == 2 and cache.size_bytes <= settings.FACTCHECK_VIDEO_CACHE_BYTES
    # A hit reads nothing: the files are immutable, named by their content.
    name = ReferenceVideo.objects.get(reference_id=ids[2]).fingerprint_file
    default_storage.delete(name)
    assert stored_videos(ids[2:])[ids[2]] is loaded[ids[2]]


def test_the_outbox_repairs_a_lost_add_and_a_lost_removal(monkeypatch, deltas_kept) -> None:
    kept, removed = add_video(1), add_video(2)
    index_rebuild()
    lost = add_video(3)  # committed, its index update lost
    removed_id = removed.pk
    with monkeypatch.context() as lost_update:
        lost_update.setattr(services, "_enqueue_index_update", lambda **ids: None)
        services.reference_remove(reference=removed)
    assert indexed_reference_ids(VIDEO_FRAMES_INDEX) == {kept.pk, removed_id}
    index_update()  # any later update applies the whole outbox
    for name in (VIDEO_FRAMES_INDEX, VIDEO_SAMPLES_INDEX):
        assert indexed_reference_ids(name) == {kept.pk, lost.pk}, name
    assert video_frame_candidates(copy_of(3).fingerprint)[:1] == [lost.pk]
    assert removed_id not in video_frame_candidates(copy_of(2).fingerprint)
