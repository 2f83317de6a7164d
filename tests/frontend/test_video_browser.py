"""A video item in a real browser: the player, the original in step, the timeline, frame steps."""

from __future__ import annotations

import pytest

from factcheck.services import reference_add
from moderation.analysis import submission_analyze
from moderation.clock import clock
from moderation.models import ReviewItem, Submission
from moderation.services import submission_create
from tests.frontend.browser import SCREENSHOTS, csp_violations, signed_in, wait_until
from tests.videos import FPS, PASTE_FROM_S, TRIM_S

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_jumps_to_the_changed_span_and_steps_through_frames(
    browser, live_server, personas, videos, monkeypatch
):
    monkeypatch.setattr("moderation.tasks.render_annotated_video.delay", lambda report_id: None)
    reference_add(content=videos["original"], source="Agency", external_id="clip-1")
    submission = submission_create(content=videos["repost"], source=Submission.Source.API)
    submission_analyze(submission_id=submission.pk)
    item = ReviewItem.objects.get(submission=submission)
    console: list[str] = []
    page = signed_in(
        browser, live_server, "moderator", f"/review/items/{item.pk}/", console=console
    )
    wait_until(page, "document.querySelector('#query-video').readyState >= 1")
    wait_until(page, "document.querySelector('#original-video').readyState >= 1")
    assert page.locator(".timeline-span.edited").count() == 1

    # Clicking the changed span seeks the submitted video to it and the original to its time.
    changed = page.locator(".span-list li", has=page.locator("strong")).locator(".link-button")
    start = float(changed.get_attribute("data-seek") or "nan")
    assert PASTE_FROM_S - 0.5 <= start <= PASTE_FROM_S
    changed.click()
    query = "document.querySelector('#query-video')"
    original = "document.querySelector('#original-video')"
    wait_until(page, f"Math.abs({query}.currentTime - {start}) < 0.05")
    wait_until(page, f"Math.abs({original}.currentTime - {start + TRIM_S}) < 0.15")
    wait_until(page, "document.querySelectorAll('#video-regions .box.edit').length > 0")
    assert page.locator("#video-clock").inner_text() == clock(start)

    # Frame steps from the keyboard, and the edit boxes leave with the changed span.
    page.locator("body").press(".")
    wait_until(
        page,
        f"Math.abs({query}.currentTime - {start + 1 / FPS}) < 0.02",
    )
    page.locator(".span-list .link-button").nth(2).click()  # the unchanged span after it
    wait_until(page, "document.querySelectorAll('#video-regions .box.edit').length === 0")

    # The wellness blur covers the video and the original alike.
    page.get_by_label("Wellness blur").check()
    blurred = page.eval_on_selector("#query-video", "v => getComputedStyle(v).filter")
    behind = page.eval_on_selector("#original-video", "v => getComputedStyle(v).filter")
    assert "blur" in blurred and "blur" in behind
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "video-item.png"), full_page=True)
    assert csp_violations(page) == []
    # No script error (the favicon's 404 is issue 18's).
    assert not [line for line in console if line.startswith("page error")], console
