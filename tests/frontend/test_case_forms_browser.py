"""Case pages in a real browser (Playwright + Debian's Chromium), issue 18 items 4, 5 and 6:
an upload without a chosen kind, a reference picked by search, no default rating, a correction
republished, the links between an item and its case, axe with 0 violations, and no sideways
scrolling at 390 px.
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from factcheck.cases.models import Case, Evidence
from moderation.escalation import submission_escalate
from tests.frontend.axe import axe_violations, sideways_overflow
from tests.frontend.browser import SCREENSHOTS, signed_in
from tests.frontend.test_video_browser import wait_until
from tests.moderation.review_factory import review_item_create, scene

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 1000}


def check_page(page, name: str) -> None:
    """axe finds nothing, and the page's content does not scroll sideways at the current width
    (the header's wrapping is the queue work's, tested there)."""
    assert axe_violations(page) == [], name
    assert sideways_overflow(page) <= 0, f"{name} scrolls sideways"
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_case_work_without_traps(browser, live_server, personas, tmp_path):
    item = review_item_create(seed=41, text="A shark swims through the flooded mall")
    case = submission_escalate(submission=item.submission, actor=personas["moderator"])
    reference = item.submission.reports.get().document["matches"][0]["reference"]
    console: list[str] = []
    page = signed_in(browser, live_server, "fact_checker", f"/cases/{case.pk}/", console=console)
    check_page(page, "case-detail-1440")

    # The item is linked back with where it stands in review now.
    state = page.locator(f'[data-testid="review-state-{item.submission_id}"]')
    assert "Pending" in state.inner_text()
    assert state.get_by_role("link").get_attribute("href") == f"/review/items/{item.pk}/"

    # An upload without choosing a kind is uploaded media, not a failing "verified original".
    photo = tmp_path / "agency.jpg"
    buffer = io.BytesIO()
    Image.fromarray(scene(41)).save(buffer, format="JPEG", quality=92)
    photo.write_bytes(buffer.getvalue())
    page.locator("summary", has_text="Add evidence").click()
    assert page.locator("#e-kind").input_value() == ""
    page.locator("#e-media").set_input_files(str(photo))
    page.get_by_role("button", name="Add evidence").click()
    page.wait_for_selector("text=Evidence added.")
    assert case.evidence.get().kind == Evidence.Kind.MEDIA

    # A reference picked by search fills the reference field with its id.
    page.locator("summary", has_text="Add evidence").click()
    page.locator("#e-reference-q").fill(reference["external_id"].lower())
    pick = page.locator("#e-reference-results button").first
    pick.wait_for()
    assert reference["external_id"] in pick.inner_text()
    pick.press("Enter")  # reachable from the keyboard
    assert page.locator("#e-reference").input_value() == f"#{reference['id']}"
    page.get_by_role("button", name="Add evidence").click()
    page.wait_for_selector("text=Evidence added.")
    assert case.evidence.filter(kind="reference", reference_id=int(reference["id"])).exists()

    # A typed external id that does not exist is a form error on the page, not a 404.
    page.locator("summary", has_text="Add evidence").click()
    page.locator("#e-reference").fill("abc")
    page.get_by_role("button", name="Add evidence").click()
    page.wait_for_selector("text=no verified original with the id or external id 'abc'")
    assert page.url == f"{live_server.url}/cases/{case.pk}/"

    # No rating form on a new case; once investigating, no rating is chosen beforehand.
    assert page.locator('[data-testid="rate-form"]').count() == 0
    assert "cannot be rated" in page.locator('[data-testid="rating-refused"]').inner_text()
    page.locator("#w-status").select_option("investigating")
    page.get_by_role("button", name="Move", exact=True).click()
    page.wait_for_selector("text=Case is now investigating.")
    assert page.locator("#r-rating").input_value() == ""
    assert page.locator("#a-user").input_value() == "fact_checker"
    page.locator("#r-rating").select_option("altered")
    page.locator("#r-expl").fill("The shark was pasted into a photo of the mall.")
    page.get_by_role("button", name="Rate", exact=True).click()
    page.wait_for_selector("text=Rated altered.")
    page.get_by_role("button", name="Publish fact-check").click()
    page.wait_for_selector("text=Published.")

    # The timeline is newest first, and not a scroll box the keyboard cannot reach.
    kinds = page.locator('[data-testid="timeline"] > li').evaluate_all(
        "items => items.map(item => item.dataset.kind)"
    )
    assert kinds[0] == "publish"
    timeline = page.locator('[data-testid="timeline"]')
    assert timeline.evaluate("el => getComputedStyle(el).overflowY") == "visible"

    # Corrected and republished: dateModified, datePublished kept.
    case.refresh_from_db()
    first_published = case.published_at
    page.locator("#k-rating").select_option("false")
    page.locator("#k-note").fill("The mall was never flooded either.")
    page.get_by_role("button", name="Correct and republish").click()
    page.wait_for_selector("text=Corrected to false and republished.")
    check_page(page, "case-detail-published-1440")
    case.refresh_from_db()
    assert case.published_at == first_published and case.corrected_at is not None

    page.goto(f"{live_server.url}/factchecks/{case.slug}/")
    review = json.loads(page.locator('script[type="application/ld+json"]').text_content())
    assert review["datePublished"] == first_published.date().isoformat()
    assert review["dateModified"] == case.corrected_at.isoformat()
    assert "never flooded" in page.locator('[data-testid="correction"]').inner_text()
    check_page(page, "factcheck-public-1440")

    # Phones: the case pages and the public page do not scroll sideways at 390 px.
    page.set_viewport_size(PHONE)
    for path, name in [
        (f"/factchecks/{case.slug}/", "factcheck-public-390"),
        (f"/cases/{case.pk}/", "case-detail-390"),
        ("/cases/", "case-list-390"),
        ("/cases/new/", "case-new-390"),
    ]:
        page.goto(f"{live_server.url}{path}")
        wait_until(page, "document.readyState === 'complete'")
        check_page(page, name)
    page.set_viewport_size(DESKTOP)
    for path, name in [("/cases/", "case-list-1440"), ("/cases/new/", "case-new-1440")]:
        page.goto(f"{live_server.url}{path}")
        check_page(page, name)
    assert console == []

    # From the item page to its case.
    moderator = signed_in(browser, live_server, "moderator", f"/review/items/{item.pk}/")
    link = moderator.locator('[data-testid="item-cases"] a')
    assert link.get_attribute("href") == f"/cases/{case.pk}/"
    link.click()
    moderator.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    assert Case.objects.get(pk=case.pk).status == "published"
