"""Submission -> analysis -> one report version, review item and event; failures and retries."""

import pytest
from django.core.files.storage import default_storage

from moderation.analysis import MAX_ANALYSIS_ATTEMPTS, submission_analyze
from moderation.events import SUBMISSION_ANALYZED, VERDICT_CHANGED, event_created
from moderation.models import Event, Report, ReportArtifact, ReviewItem, Submission
from moderation.services import (
    SubmissionError,
    submission_create,
    submission_reanalyze,
    submission_retry,
)

from .conftest import match_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def submission(api_client_credentials, make_image_bytes, django_capture_on_commit_callbacks):
    """A submission received but not analysed yet (the enqueued task is not run)."""
    with django_capture_on_commit_callbacks(execute=False):
        return submission_create(
            content=make_image_bytes(seed=11),
            source="api",
            client=api_client_credentials.client,
            external_id="post-1",
            metadata={"reach": 1000},
        )


def test_create_enqueues_on_commit_and_the_task_stores_everything(
    engines, api_client_credentials, make_image_bytes, django_capture_on_commit_callbacks
) -> None:
    engines.matches = [match_item(edited=True)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submission = submission_create(
            content=make_image_bytes(seed=1), source="api", client=api_client_credentials.client
        )
    assert len(callbacks) >= 1
    submission.refresh_from_db()
    assert submission.status == Submission.Status.ANALYZED and submission.attempts == 1
    report = Report.objects.get(submission=submission)
    assert (report.version, report.is_current, report.label) == (1, True, "edited_copy")
    assert report.document["verdict"]["label"] == "edited_copy"
    kinds = set(report.artifacts.values_list("kind", flat=True))
    assert kinds == {
        "edit_mask", "edit_overlay", "aligned_reference", "forensic_map", "forensic_overlay",
    }  # fmt: skip
    for artifact in report.artifacts.all():
        assert artifact.file.name is not None
        assert default_storage.exists(artifact.file.name)
        assert artifact.file.name.startswith(f"reports/{submission.pk}/v1/")
    item = ReviewItem.objects.get(submission=submission)
    assert item.priority >= 400  # edited copies go first
    event = Event.objects.get(submission=submission)
    assert event.type == SUBMISSION_ANALYZED and event.client == api_client_credentials.client
    assert event.payload["report_version"] == 1
    assert event.payload["report_url"] == f"/api/v1/submissions/{submission.pk}/report/"
    assert event.payload["verdict"]["label"] == "edited_copy"


def test_redelivered_task_never_makes_a_second_report(engines, submission) -> None:
    assert submission_analyze(submission_id=submission.pk) is not None
    assert submission_analyze(submission_id=submission.pk) is None  # acks_late redelivery
    assert Report.objects.filter(submission=submission).count() == 1
    assert Event.objects.filter(submission=submission).count() == 1


def test_a_worker_lost_mid_analysis_is_picked_up_again(engines, submission) -> None:
    Submission.objects.filter(pk=submission.pk).update(status="analyzing", attempts=1)
    report = submission_analyze(submission_id=submission.pk)
    assert report is not None and report.version == 1
    submission.refresh_from_db()
    assert submission.attempts == 2 and submission.status == "analyzed"


def test_concurrent_deliveries_store_once(engines, submission, monkeypatch) -> None:
    """A second delivery finishing while the first computes finds `analyzed` and stores nothing."""
    from moderation import analysis

    real = analysis.image_analyze

    def slow_first(**kwargs):
        result = real(**kwargs)
        monkeypatch.setattr(analysis, "image_analyze", real)
        assert submission_analyze(submission_id=submission.pk) is not None  # the other one
        return result

    monkeypatch.setattr(analysis, "image_analyze", slow_first)
    assert submission_analyze(submission_id=submission.pk) is None
    assert Report.objects.filter(submission=submission).count() == 1


def test_failures_are_recorded_with_their_reason_and_retryable(engines, submission) -> None:
    engines.fail_with = RuntimeError("index unreadable")
    assert submission_analyze(submission_id=submission.pk) is None
    submission.refresh_from_db()
    assert submission.status == "failed"
    assert submission.failure_reason == "analysis failed: RuntimeError: index unreadable"
    with pytest.raises(SubmissionError, match="already queued"):
        Submission.objects.filter(pk=submission.pk).update(status="analyzing")
        submission_reanalyze(submission=submission)
    Submission.objects.filter(pk=submission.pk).update(status="failed")
    engines.fail_with = None
    submission_retry(submission=submission)
    submission.refresh_from_db()
    assert (submission.status, submission.failure_reason, submission.attempts) == (
        "received", "", 0,
    )  # fmt: skip
    report = submission_analyze(submission_id=submission.pk)
    assert report is not None and report.version == 1


def test_retry_refuses_anything_but_failed(engines, submission) -> None:
    with pytest.raises(SubmissionError, match="only a failed analysis can be retried"):
        submission_retry(submission=submission)


def test_poison_input_gives_up_after_max_attempts(engines, submission) -> None:
    Submission.objects.filter(pk=submission.pk).update(
        status="analyzing", attempts=MAX_ANALYSIS_ATTEMPTS
    )
    assert submission_analyze(submission_id=submission.pk) is None
    submission.refresh_from_db()
    assert submission.status == "failed" and "gave up after 3 attempts" in submission.failure_reason
    assert engines.calls == []


def test_reanalysis_adds_a_version_moves_current_and_announces_a_changed_verdict(
    engines, submission, django_capture_on_commit_callbacks
) -> None:
    engines.probability = 0.1
    first = submission_analyze(submission_id=submission.pk)
    assert first is not None
    ReviewItem.objects.filter(submission=submission).update(status="decided")
    engines.probability = 0.9
    with django_capture_on_commit_callbacks(execute=True):
        submission_reanalyze(submission=submission, reason="new detector")
    reports = list(Report.objects.filter(submission=submission).order_by("version"))
    assert [(r.version, r.is_current, r.label) for r in reports] == [
        (1, False, "no_evidence"),
        (2, True, "likely_manipulated"),
    ]
    assert reports[1].reason == "new detector"
    assert reports[0].pk == first.pk and ReportArtifact.objects.filter(report=first).exists()
    types = list(Event.objects.filter(submission=submission).values_list("type", flat=True))
    assert types == [SUBMISSION_ANALYZED, SUBMISSION_ANALYZED, VERDICT_CHANGED]
    changed = Event.objects.get(type=VERDICT_CHANGED)
    assert changed.payload["previous_label"] == "no_evidence"
    assert changed.payload["report_version"] == 2
    item = ReviewItem.objects.get(submission=submission)
    assert item.status == "pending"  # the decision was on evidence that changed


def test_event_listeners_are_told_after_commit_only(
    engines, submission, django_capture_on_commit_callbacks, caplog
) -> None:
    told: list[int] = []

    def broken(sender: object, **kwargs: object) -> None:
        raise RuntimeError("receiver bug")

    def receiver(sender: object, *, event_id: int, **kwargs: object) -> None:
        told.append(event_id)

    event_created.connect(broken)
    event_created.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            submission_analyze(submission_id=submission.pk)
        assert told == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        event_created.disconnect(broken)
        event_created.disconnect(receiver)
    # The failing receiver was logged and did not stop the other one.
    assert told == [Event.objects.get(submission=submission).pk]
    assert "receiver bug" in caplog.text


def test_idempotency_key_returns_the_first_submission(
    engines, api_client_credentials, make_image_bytes
) -> None:
    client = api_client_credentials.client
    content = make_image_bytes(seed=5)
    first = submission_create(content=content, source="api", client=client, idempotency_key="k1")
    again = submission_create(content=content, source="api", client=client, idempotency_key="k1")
    assert first.pk == again.pk and Submission.objects.count() == 1
    with pytest.raises(SubmissionError, match="already used for a different request"):
        submission_create(
            content=make_image_bytes(seed=6), source="api", client=client, idempotency_key="k1"
        )
    other = submission_create(content=content, source="api", client=client)
    assert other.pk != first.pk and other.media_id == first.media_id  # media deduplicated
