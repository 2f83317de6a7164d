"""New verified originals re-check recent submissions: new report version, verdict.changed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from factcheck.signals import references_indexed, references_indexed_send
from moderation import tasks
from moderation.analysis import submission_analyze
from moderation.events import VERDICT_CHANGED
from moderation.models import Event, Report, Submission
from moderation.recheck import (
    references_indexed_receiver,
    submission_recheck,
    submissions_to_recheck,
)
from moderation.services import submission_create

from .conftest import match_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysed(engines, api_client_credentials, make_image_bytes, django_capture_on_commit_callbacks):
    def make(seed: int) -> Submission:
        with django_capture_on_commit_callbacks(execute=False):
            submission = submission_create(
                content=make_image_bytes(seed=seed),
                source="api",
                client=api_client_credentials.client,
            )
        submission_analyze(submission_id=submission.pk)
        return submission

    return make


def test_moderation_connects_its_receiver_at_startup() -> None:
    told = references_indexed.send(sender=None, reference_ids=[])
    assert references_indexed_receiver in [receiver for receiver, _ in told]


def test_matching_recent_submissions_get_a_new_version_and_an_event(
    engines, analysed, settings, django_capture_on_commit_callbacks
) -> None:
    settings.RECHECK_WINDOW_DAYS = 7
    engines.probability = 0.1
    recent, old = analysed(1), analysed(2)
    Submission.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    engines.recheck_matches = engines.matches = [match_item(reference_id=31, edited=True)]
    engines.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):
        references_indexed_send([31])  # what factcheck's update_index task calls after publishing
    assert engines.calls[0] == "reference_ids_matching:[31]"
    assert engines.calls.count("reference_ids_matching:[31]") == 1  # the old one is not checked
    reports = list(Report.objects.filter(submission=recent).order_by("version"))
    assert [(r.version, r.is_current, r.label) for r in reports] == [
        (1, False, "no_evidence"),
        (2, True, "edited_copy"),
    ]
    assert reports[1].reason == "new verified original (reference 31)"
    changed = Event.objects.get(submission=recent, type=VERDICT_CHANGED)
    assert changed.payload["previous_label"] == "no_evidence"
    assert changed.payload["verdict"]["label"] == "edited_copy"
    assert Report.objects.filter(submission=old).count() == 1


def test_no_match_or_already_matched_changes_nothing(engines, analysed) -> None:
    submission = analysed(3)
    engines.recheck_matches = []
    assert submission_recheck(submission_id=submission.pk, reference_ids=[5]) is None
    engines.recheck_matches = engines.matches = [match_item(reference_id=5, edited=False)]
    report = submission_recheck(submission_id=submission.pk, reference_ids=[5])
    assert report is not None and report.version == 2 and report.label == "unaltered_copy"
    engines.calls.clear()
    assert submission_recheck(submission_id=submission.pk, reference_ids=[5]) is None
    assert engines.calls == []  # the current report already names reference 5


def test_submissions_not_analysed_are_left_to_their_running_analysis(engines, analysed) -> None:
    submission = analysed(4)
    Submission.objects.filter(pk=submission.pk).update(status="analyzing")
    engines.recheck_matches = [match_item(reference_id=6)]
    assert submission_recheck(submission_id=submission.pk, reference_ids=[6]) is None
    assert Report.objects.filter(submission=submission).count() == 1


def test_videos_are_selected_and_rechecked_on_the_video_queue(
    analysed, videos, settings, monkeypatch
) -> None:
    image = analysed(5)
    with_video = submission_create(content=videos["repost"], source="api")
    Submission.objects.filter(pk=with_video.pk).update(status=Submission.Status.ANALYZED)
    assert submissions_to_recheck() == [(image.pk, False), (with_video.pk, True)]
    queued: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.recheck_submission, "delay", lambda pk, _: queued.append(("i", pk)))
    monkeypatch.setattr(tasks.recheck_video, "delay", lambda pk, _: queued.append(("v", pk)))
    tasks.recheck_references([7])
    assert queued == [("i", image.pk), ("v", with_video.pk)]
    assert settings.CELERY_TASK_ROUTES["moderation.recheck_video"] == {"queue": "video"}
