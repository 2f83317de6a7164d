"""Submissions analysed before their original was added: a new reference re-checks recent
videos (by the temporal fingerprint kept at their analysis) and images that are frames of a new
reference video, and a match gives a new report version with `verdict.changed`."""

from __future__ import annotations

import io

import av
import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage

from factcheck import recheck
from factcheck.services import reference_add
from factcheck.video_store import video_fingerprint_read, video_fingerprint_storage_name
from moderation import recheck as moderation_recheck
from moderation.analysis import submission_analyze
from moderation.events import VERDICT_CHANGED
from moderation.models import Event, ReportArtifact, Submission
from moderation.recheck import submission_recheck
from moderation.services import submission_create
from tests.videos import TRIM_S

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(django_capture_on_commit_callbacks, settings):
    """A submission analysed now (no references yet); the re-check window covers it."""
    settings.RECHECK_WINDOW_DAYS = 7

    def submit(content: bytes) -> Submission:
        with django_capture_on_commit_callbacks(execute=False):
            submission = submission_create(content=content, source=Submission.Source.API)
        submission_analyze(submission_id=submission.pk)
        submission.refresh_from_db()
        assert submission.status == Submission.Status.ANALYZED, submission.failure_reason
        return submission

    return submit


@pytest.fixture
def publish(django_capture_on_commit_callbacks):
    """Add a reference as a curator does: its commit publishes the index, whose signal queues
    the re-check (tasks run inline in tests)."""

    def add(content: bytes, external_id: str):
        with django_capture_on_commit_callbacks(execute=True):
            return reference_add(content=content, source="Agency", external_id=external_id)

    return add


def _versions(submission: Submission) -> list[tuple[int, bool, int]]:
    """(version, current, matches) of each report version."""
    reports = submission.reports.order_by("version")
    return [(r.version, r.is_current, len(r.document["matches"])) for r in reports]


def test_a_video_posted_before_its_original_is_matched_when_the_original_is_added(
    videos, submitted, publish, monkeypatch
):
    submission = submitted(videos["repost"])
    assert _versions(submission) == [(1, True, 0)]
    assert video_fingerprint_read(submission.media.sha256) is not None  # kept at its analysis

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the kept fingerprint is read, the video is not decoded for it")

    monkeypatch.setattr(recheck, "video_read", no_decoding)
    publish(videos["original"], "clip-1")
    assert _versions(submission) == [(1, False, 0), (2, True, 1)]
    report = submission.reports.get(is_current=True)
    assert report.label == "edited_copy"
    (match,) = report.document["matches"]
    assert match["reference"]["external_id"] == "clip-1"
    assert match["offset_s"] == pytest.approx(TRIM_S, abs=0.2)
    assert report.reason.startswith("new verified original")
    changed = Event.objects.get(submission=submission, type=VERDICT_CHANGED)
    assert changed.payload["verdict"]["label"] == "edited_copy"
    assert report.artifacts.filter(kind=ReportArtifact.Kind.ANNOTATED).exists()


def test_an_unrelated_reference_does_not_analyse_a_video_again(
    videos, submitted, publish, monkeypatch, make_image_bytes
):
    submission = submitted(videos["repost"])
    analysed: list[int] = []
    monkeypatch.setattr(moderation_recheck, "video_analyze", lambda **kwargs: analysed.append(1))
    publish(make_image_bytes(seed=3), "unrelated")
    assert analysed == [] and _versions(submission) == [(1, True, 0)]


def test_a_video_whose_fingerprint_was_not_kept_is_fingerprinted_again_once(
    videos, submitted, publish
):
    submission = submitted(videos["repost"])
    default_storage.delete(video_fingerprint_storage_name(submission.media.sha256))
    reference = publish(videos["original"], "clip-1").reference
    assert _versions(submission)[-1] == (2, True, 1)
    assert video_fingerprint_read(submission.media.sha256) is not None  # kept this time
    assert submission_recheck(submission_id=submission.pk, reference_ids=[reference.pk]) is None


def test_a_picture_posted_before_the_video_it_comes_from_is_matched_when_the_video_is_added(
    videos, submitted, publish
):
    with av.open(io.BytesIO(videos["original"]), mode="r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    still = cv2.resize(frames[25], (400, 300), interpolation=cv2.INTER_AREA)
    still = np.ascontiguousarray(still[:, ::-1])  # posted mirrored
    encoded = cv2.imencode(".png", cv2.cvtColor(still, cv2.COLOR_RGB2BGR))[1].tobytes()
    submission = submitted(encoded)
    assert _versions(submission) == [(1, True, 0)]
    publish(videos["original"], "clip-1")
    assert _versions(submission)[-1] == (2, True, 1)
    (match,) = submission.reports.get(is_current=True).document["matches"]
    assert match["reference"]["external_id"] == "clip-1"
    assert match["frame_time_s"] == pytest.approx(2.5, abs=0.15)
