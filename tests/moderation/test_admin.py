"""Admin actions: retry failed analyses, analyse again."""

import pytest
from django.test import Client

from moderation.models import Report, Submission
from moderation.services import submission_create

pytestmark = pytest.mark.django_db


def test_admin_retries_failed_and_reanalyses_others(
    engines, personas, make_image_bytes, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        failed = submission_create(content=make_image_bytes(seed=1), source="api")
        done = submission_create(content=make_image_bytes(seed=2), source="api")
    Submission.objects.filter(pk=failed.pk).update(status="failed", failure_reason="boom")
    admin = personas["admin"]
    admin.is_staff = True  # the admin site also needs staff status
    admin.save(update_fields=["is_staff"])
    browser = Client()
    browser.force_login(admin)
    url = "/admin/moderation/submission/"
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            url,
            {"action": "retry_failed", "index": 0, "_selected_action": [failed.pk, done.pk]},
            follow=True,
        )
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 submission(s) queued for analysis." in text
    assert "only a failed analysis can be retried" in text
    failed.refresh_from_db()
    assert failed.status == "analyzed" and failed.failure_reason == ""
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(url, {"action": "reanalyze", "index": 0, "_selected_action": [done.pk]})
    assert Report.objects.get(submission=done, is_current=True).version == 2
    page = browser.get(f"{url}{done.pk}/change/")
    assert page.status_code == 200 and "Failure reason" in page.content.decode()


def test_admin_cannot_edit_a_submissions_status_text_or_media(personas, make_image_bytes):
    from tests.moderation.review_factory import review_item_create

    item = review_item_create(seed=61, text="Original caption")
    submission = item.submission
    admin = personas["admin"]
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    browser = Client()
    browser.force_login(admin)
    url = f"/admin/moderation/submission/{submission.pk}/change/"
    page = browser.get(url).content.decode()
    assert 'name="status"' not in page and 'name="text"' not in page
    assert 'name="media"' not in page
    other = review_item_create(seed=62).submission
    browser.post(
        url,
        {
            "status": "failed",
            "text": "Rewritten",
            "media": other.media_id,
            "source": submission.source,
            "platform": submission.platform,
            "external_id": submission.external_id,
            "metadata": "{}",
        },
    )
    submission.refresh_from_db()
    assert (submission.status, submission.text) == ("analyzed", "Original caption")
    assert submission.media_id != other.media_id
    assert browser.get("/admin/moderation/submission/add/").status_code == 403
