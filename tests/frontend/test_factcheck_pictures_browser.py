"""The public fact-check page's pictures in a real browser (Playwright + Debian's Chromium):
the original and the marked copy load, sensitive sets open blurred and are revealed by a button
(factcheck-public.js, no inline script or style), axe finds nothing and nothing scrolls sideways
at 1440 and 390 px."""

from __future__ import annotations

import pytest

from tests.frontend.axe import axe_violations, sideways_overflow
from tests.frontend.browser import CSP_WATCH_SCRIPT, SCREENSHOTS, csp_violations
from tests.frontend.test_factcheck_pictures import escalated, item_with_overlay, publish
from tests.frontend.test_video_browser import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 1000}
LOADED = (
    "Array.from(document.querySelectorAll('.picture-frame img'))"
    ".every(img => img.complete && img.naturalWidth > 0)"
)


def blur_of(page, testid: str) -> list[str]:
    return page.locator(f'[data-testid="{testid}"] .picture-frame img').evaluate_all(
        "imgs => imgs.map(img => getComputedStyle(img).filter)"
    )


def test_public_pictures_blurred_until_revealed(browser, live_server, personas):
    calm = item_with_overlay(81)
    flagged = item_with_overlay(82, metadata={"sensitive": True})
    case = escalated(calm, personas)
    from moderation.escalation import case_submission_link

    case_submission_link(case=case, submission=flagged.submission, actor=personas["moderator"])
    publish(case, personas)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(CSP_WATCH_SCRIPT)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/factchecks/{case.slug}/")  # anonymous: a public page
    page.locator(".picture-frame img").first.scroll_into_view_if_needed()
    for img in page.locator(".picture-frame img").all():
        img.scroll_into_view_if_needed()
    wait_until(page, LOADED)

    calm_set, flagged_set = f"pictures-{calm.submission_id}", f"pictures-{flagged.submission_id}"
    assert blur_of(page, calm_set) == ["none", "none"]
    assert all(value.startswith("blur(") for value in blur_of(page, flagged_set))
    # The blur stays inside each picture's frame.
    frames = page.locator(f'[data-testid="{flagged_set}"] .picture-frame')
    assert frames.first.evaluate("el => getComputedStyle(el).overflow") == "hidden"
    assert page.locator(f'[data-testid="{calm_set}"] button').count() == 0
    page.screenshot(path=str(SCREENSHOTS / "factcheck-pictures-blurred-1440.png"), full_page=True)
    assert axe_violations(page) == []
    assert sideways_overflow(page) <= 0

    reveal = page.locator(f'[data-testid="{flagged_set}"]').get_by_role(
        "button", name="Show the pictures"
    )
    reveal.focus()
    page.keyboard.press("Enter")  # reachable from the keyboard
    assert blur_of(page, flagged_set) == ["none", "none"]
    again = page.locator(f'[data-testid="{flagged_set}"]').get_by_role(
        "button", name="Blur the pictures again"
    )
    again.click()
    assert all(value.startswith("blur(") for value in blur_of(page, flagged_set))

    page.set_viewport_size(PHONE)
    page.reload()
    for img in page.locator(".picture-frame img").all():
        img.scroll_into_view_if_needed()
    wait_until(page, LOADED)
    page.screenshot(path=str(SCREENSHOTS / "factcheck-pictures-390.png"), full_page=True)
    assert axe_violations(page) == []
    assert sideways_overflow(page) <= 0
    assert csp_violations(page) == []
    assert errors == []
    context.close()
