"""A video end to end: added as a reference, a changed repost analysed (command and task), the
report's video keys, the annotated video and its API route."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from factcheck import video_references, video_store
from factcheck.core.video_match import Segment, VideoAlignment
from factcheck.evaluation import videocases as vc
from factcheck.evaluation.video_case_set import CASES_FILE
from factcheck.indexing import index_rebuild
from factcheck.models import Reference, ReferenceVideo
from factcheck.selectors import image_matches
from factcheck.services import reference_add
from moderation import tasks
from moderation.analysis import analyses_resume, annotated_video_render
from moderation.models import ReportArtifact, Submission
from moderation.services import submission_create
from moderation.tasks import analyze_submission
from moderation.video_evaluation import evaluate_video
from moderation.video_pipeline import video_analyze
from tests.videos import (
    FPS,
    PASTE_FROM_S,
    PASTE_TO_S,
    SECONDS,
    TRIM_S,
    displayed_turned_clockwise,
)


@pytest.fixture
def add_reference(django_capture_on_commit_callbacks):
    """`reference_add` followed by the index update its commit enqueues (a test that is not
    transactional never commits): a reference video is searchable once published."""

    def add(content: bytes, *, external_id: str):
        with django_capture_on_commit_callbacks(execute=True):
            return reference_add(content=content, source="Agency", external_id=external_id)

    return add


@pytest.mark.django_db
def test_a_reference_video_is_fingerprinted_in_time_and_by_its_poster(videos):
    added = reference_add(content=videos["original"], source="Agency", external_id="clip-1")
    video = ReferenceVideo.objects.get(reference=added.reference)
    assert video.duration_s == pytest.approx(SECONDS, abs=0.2)
    assert video.frames == SECONDS * FPS and video.keyframes >= 2
    assert added.reference.fingerprint.pdq  # the poster keyframe, for the image indexes
    assert reference_add(content=videos["original"], source="Agency").created is False


@pytest.mark.django_db
def test_a_changed_repost_is_matched_in_time_and_its_change_localised(videos, add_reference):
    add_reference(videos["original"], external_id="clip-1")
    analysis = video_analyze(content=videos["repost"], input_name="repost.mp4", annotate=True)
    document = analysis.document
    assert document["media"]["kind"] == "video"
    assert document["media"]["duration_s"] == pytest.approx(SECONDS - TRIM_S - 1.0, abs=0.2)
    (match,) = document["matches"]
    assert match["reference"]["external_id"] == "clip-1"
    assert match["offset_s"] == pytest.approx(TRIM_S, abs=0.2)
    edited = [s for s in match["segments"] if s["edited"]]
    assert edited, match["segments"]
    assert edited[0]["start_s"] == pytest.approx(PASTE_FROM_S, abs=1.0)
    assert edited[-1]["end_s"] == pytest.approx(PASTE_TO_S, abs=1.0)
    x, y = edited[0]["regions"][0]["bbox"][:2]  # query pixels (240 x 180)
    assert abs(x - 120) < 20 and abs(y - 30) < 20
    assert document["verdict"]["label"] == "edited_copy"
    assert any("during" in reason for reason in document["verdict"]["reasons"])
    assert len(document["timeline"]) >= 5
    assert analysis.annotated is not None
    with av.open(io.BytesIO(analysis.annotated.video), mode="r") as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == round((SECONDS - TRIM_S - 1.0) * FPS)
    assert analysis.annotated.contact_sheet is not None


@pytest.mark.django_db
def test_analyze_command_writes_the_annotated_video(videos, add_reference, tmp_path: Path, capsys):
    add_reference(videos["original"], external_id="clip-1")
    path = tmp_path / "repost.mp4"
    path.write_bytes(videos["repost"])
    call_command("analyze", str(path), "--json", "--artifacts", str(tmp_path / "out"))
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert document["matches"][0]["reference"]["external_id"] == "clip-1"
    assert (tmp_path / "out" / "repost" / "annotated.mp4").stat().st_size > 1000
    assert (tmp_path / "out" / "repost" / "contact_sheet.png").exists()


@pytest.mark.django_db(transaction=True)
def test_a_submitted_video_is_analysed_and_its_annotated_video_served(
    videos, api_client_credentials
):
    reference_add(content=videos["original"], source="Agency", external_id="clip-1")
    submission = submission_create(
        content=videos["repost"],
        source=Submission.Source.API,
        client=api_client_credentials.client,
    )
    assert submission.media.kind == "video"
    analyze_submission.apply(args=[submission.pk])
    submission.refresh_from_db()
    assert submission.status == Submission.Status.ANALYZED, submission.failure_reason
    report = submission.reports.get(is_current=True)
    kinds = set(report.artifacts.values_list("kind", flat=True))
    assert {ReportArtifact.Kind.ANNOTATED, ReportArtifact.Kind.CONTACT_SHEET} <= kinds
    assert annotated_video_render(report_id=report.pk) is False  # drawn once per version
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_credentials.token}")
    body = client.get(f"/api/v1/submissions/{submission.pk}/report/").json()
    assert (
        body["artifacts"]["annotated"]
        .split("?")[0]
        .endswith(f"/api/v1/submissions/{submission.pk}/artifacts/annotated.mp4")
    )
    response = client.get(
        f"/api/v1/submissions/{submission.pk}/artifacts/annotated.mp4", HTTP_RANGE="bytes=0-99"
    )
    assert response.status_code == 206 and response["Content-Type"] == "video/mp4"
    assert len(b"".join(response.streaming_content)) == 100
    wrong = client.get(f"/api/v1/submissions/{submission.pk}/artifacts/annotated.png")
    assert wrong.status_code == 404


def test_frames_differ_where_pasted(videos):
    """The fixture really changed the repost (a guard for the tests above)."""
    with av.open(io.BytesIO(videos["repost"]), mode="r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert np.mean(frames[int(PASTE_FROM_S * FPS) + 2][35:85, 125:195, 0]) > 200


@pytest.mark.django_db
def test_videos_are_analysed_on_their_own_task_queue_and_time(
    videos, settings, monkeypatch, django_capture_on_commit_callbacks, make_image_bytes
):
    queued: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.analyze_video, "delay", lambda pk, **_: queued.append(("video", pk)))
    monkeypatch.setattr(
        tasks.analyze_submission, "delay", lambda pk, **_: queued.append(("image", pk))
    )
    with django_capture_on_commit_callbacks(execute=True):
        video = submission_create(content=videos["repost"], source=Submission.Source.API)
        image = submission_create(content=make_image_bytes(), source=Submission.Source.API)
    assert queued == [("video", video.pk), ("image", image.pk)]
    assert settings.CELERY_TASK_ROUTES["moderation.analyze_video"] == {"queue": "video"}
    # Five minutes into an analysis, an image is stalled (its task was killed long ago), a video
    # is not (its task may still run).
    queued.clear()
    five_minutes_ago = timezone.now() - timedelta(minutes=5)
    Submission.objects.update(status=Submission.Status.ANALYZING, updated_at=five_minutes_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert analyses_resume() == 1
    assert queued == [("image", image.pk)]


@pytest.mark.django_db
def test_a_picture_that_is_a_frame_of_a_reference_video_says_which_and_when(videos, add_reference):
    add_reference(videos["original"], external_id="clip-1")
    with av.open(io.BytesIO(videos["original"]), mode="r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    still = cv2.resize(frames[25], (400, 300), interpolation=cv2.INTER_AREA)  # 2.5 s
    still = np.ascontiguousarray(still[:, ::-1])  # posted mirrored
    found = image_matches(image=still)
    (match,) = found.matches
    assert match["reference"]["external_id"] == "clip-1"
    assert match["frame_time_s"] == pytest.approx(2.5, abs=0.15)
    assert match["mirrored"] is True and match["edited"] is False
    assert found.aligned_references[0].shape == still.shape
    unrelated = np.ascontiguousarray(vc.load_still("astronaut")[:300, :400])
    assert image_matches(image=unrelated).matches == []


@pytest.mark.django_db
def test_an_image_reference_shown_in_a_video_is_found_with_when(videos):
    with av.open(io.BytesIO(videos["repost"]), mode="r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    still = cv2.imencode(".png", cv2.cvtColor(frames[10], cv2.COLOR_RGB2BGR))[1].tobytes()
    reference_add(content=still, source="Agency", external_id="still-1")
    index_rebuild()
    document = video_analyze(content=videos["repost"], input_name="repost.mp4").document
    (match,) = document["matches"]
    assert match["reference"]["external_id"] == "still-1" and match["still"] is True
    assert any(s["start_s"] <= 1.0 <= s["end_s"] for s in match["segments"])
    assert all(s["ref_start_s"] is None for s in match["segments"])
    assert document["verdict"]["label"] in ("unaltered_copy", "edited_copy")


@pytest.mark.django_db
def test_a_cropped_repost_whose_frame_hashes_do_not_line_up_is_found_by_the_descriptor(
    videos, add_reference, tmp_path: Path
):
    add_reference(videos["original"], external_id="clip-1")
    with av.open(io.BytesIO(videos["original"]), mode="r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    cropped = vc.write_video(
        tmp_path / "cropped.mp4", (vc.crop(0.8)(frame) for frame in frames[10:70]), fps=FPS
    )
    document = video_analyze(content=cropped.read_bytes(), input_name="cropped.mp4").document
    (match,) = document["matches"]
    assert match["reference"]["external_id"] == "clip-1"
    assert match["offset_s"] == pytest.approx(1.0, abs=0.11)
    assert not any(s["edited"] for s in match["segments"])


@pytest.mark.django_db
def test_a_reference_aligned_by_frame_hashes_is_not_outranked_by_the_descriptor(
    videos, monkeypatch, add_reference
):
    """Hash alignment and the descriptor's vote score on different scales: a reference that
    shares a shot's picture with the query (found by the descriptor, verified on that shot) must
    not outrank the one whose frames line up by their hashes."""
    lined_up = add_reference(videos["original"], external_id="clip-1")
    sharing = add_reference(videos["repost"], external_id="clip-2")
    read = video_store.video_read(videos["repost"], fps=FPS, sample_every_s=1.0)

    def hashes(query, reference):  # only clip-1 lines up, weakly
        if (
            reference
            is video_store.stored_videos([lined_up.reference.pk])[lined_up.reference.pk].fingerprint
        ):
            return dataclasses.replace(ALIGNMENT, score=0.3)
        return None

    monkeypatch.setattr(video_references, "video_match", hashes)
    monkeypatch.setattr(
        video_references,
        "_descriptor_alignment",
        lambda *args: dataclasses.replace(ALIGNMENT, score=0.9),
    )
    found = video_references.video_matches(read, interval_s=1.0)
    assert [match.reference_id for match in found] == [lined_up.reference.pk]
    assert sharing.reference.pk not in [match.reference_id for match in found]


ALIGNMENT = VideoAlignment(
    offset_s=0.0,
    speed=1.0,
    mirrored=False,
    segments=(Segment(0.0, 5.0, 0.0, 5.0, 1.0, 50),),
    pairs=(),
    score=0.5,
    reference_fraction=0.6,
    ambiguous=False,
)


@pytest.mark.django_db
def test_evaluate_video_publishes_its_references_in_indexes_of_its_own(
    videos, tmp_path: Path, settings
):
    """The evaluation's references are never committed, so their index update never runs: it
    publishes them itself, in a folder of its own, and keeps nothing."""
    cases = tmp_path / "cases"
    (cases / "references").mkdir(parents=True)
    (cases / "queries").mkdir()
    (cases / "references" / "clip-1.mp4").write_bytes(videos["original"])
    (cases / "queries" / "repost.mp4").write_bytes(videos["repost"])
    case = {
        "query": "repost",
        "kind": "paste",
        "reference": "clip-1",
        "offset_s": TRIM_S,
        "edited_span_s": [PASTE_FROM_S, PASTE_TO_S],
        "edited_box": [120, 30, 80, 60],  # query pixels
    }
    (cases / CASES_FILE).write_text(json.dumps({"split": "test", "cases": [case]}))
    result = evaluate_video(cases)
    assert result["recall_at_1"] == 1.0 and result["cases"][0]["found"] == "clip-1"
    assert result["median_offset_error_s"] < 0.2
    assert not Reference.objects.exists()
    assert not list(Path(settings.INDEX_DIR).glob("*.manifest.json"))


@pytest.mark.django_db
def test_a_repost_coded_sideways_with_a_display_rotation_is_matched_upright(
    videos, add_reference, tmp_path: Path
):
    """A phone's portrait recording: coded sideways, shown upright by its display matrix. It is
    matched and localised as shown (sizes and boxes upright)."""
    add_reference(videos["original"], external_id="clip-1")
    with av.open(io.BytesIO(videos["repost"]), mode="r") as container:
        coded = [
            np.ascontiguousarray(np.rot90(f.to_ndarray(format="rgb24"), 1))
            for f in container.decode(video=0)
        ]
    path = vc.write_video(tmp_path / "sideways.mp4", iter(coded), fps=FPS)
    document = video_analyze(
        content=displayed_turned_clockwise(path.read_bytes()), input_name="sideways.mp4"
    ).document
    assert (document["media"]["width"], document["media"]["height"]) == (240, 180)
    assert document["metadata"]["rotation"] == 270
    (match,) = document["matches"]
    assert match["reference"]["external_id"] == "clip-1"
    assert match["offset_s"] == pytest.approx(TRIM_S, abs=0.2)
    edited = [s for s in match["segments"] if s["edited"]]
    assert edited, match["segments"]
    x, y = edited[0]["regions"][0]["bbox"][:2]  # upright query pixels, as in the plain repost
    assert abs(x - 120) < 20 and abs(y - 30) < 20
