"""The item page's verdict and viewer in a real browser: one number, the map's strongest areas
outlined for detector-only verdicts, the heatmap's legend and opacity, zoom, axe."""

from __future__ import annotations

import pytest

from tests.frontend.axe import axe_violations
from tests.frontend.browser import SCREENSHOTS, csp_violations, signed_in
from tests.frontend.test_video_browser import wait_until
from tests.moderation.review_factory import EDIT_BOX, WIDTH, review_item_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def visible(page, selector: str) -> bool:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).display !== 'none'")


def test_edited_copy_one_number_heatmap_legend_and_zoom(browser, live_server, personas):
    item = review_item_create(seed=31, label="edited_copy", probability=1.0)
    console: list[str] = []
    page = signed_in(
        browser, live_server, "moderator", f"/review/items/{item.pk}/", console=console
    )
    assert page.locator("#verdict-number").count() == 1
    assert page.locator("#verdict-number").inner_text().startswith("100%")
    assert page.get_by_text("combined").count() == 0
    assert page.locator("#verdict-signals li").count() == 2

    # Heatmap: off by default with its legend; on, the legend and the opacity control show.
    assert not visible(page, "#heat-legend")
    page.get_by_label("Forensic heatmap").check()
    assert visible(page, "#heat-legend") and visible(page, '[data-layer-view="heat"]')
    assert page.locator("#heat-legend").get_by_text("Low").is_visible()
    assert page.locator("#heat-legend").get_by_text("High").is_visible()
    assert "linear-gradient" in page.eval_on_selector(".heat-bar", "el => el.style.background")
    wait_until(page, "document.querySelector('[data-layer-view=heat]').dataset.ready === '1'")
    # Viridis: the map's peak is drawn yellow-green, not red.
    peak = page.evaluate(
        """([x, y]) => {
            const c = document.querySelector('[data-layer-view=heat]');
            return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);
        }""",
        [EDIT_BOX[0] + EDIT_BOX[2] // 2, EDIT_BOX[1] + EDIT_BOX[3] // 2],
    )
    assert peak[1] > peak[0] and peak[1] > 150  # green dominates at the top of the scale
    opacity = page.get_by_label("Heatmap opacity")
    opacity.focus()
    page.keyboard.press("ArrowLeft")
    assert opacity.input_value() == "65"
    assert page.eval_on_selector('[data-layer-view="heat"]', "el => el.style.opacity") == "0.65"
    page.get_by_label("Forensic heatmap").uncheck()
    assert not visible(page, "#heat-legend")

    # Zoom: opens fitted; "100%" is actual pixels; zooming in centres on the edited region.
    assert page.locator("#zoom-level").inner_text() == "Fit"
    page.get_by_role("button", name="Actual pixels (100%)").click()
    assert page.locator("#zoom-level").inner_text() == "100%"
    assert page.eval_on_selector("#query-image", "el => el.getBoundingClientRect().width") == WIDTH
    for _ in range(3):
        page.get_by_role("button", name="Zoom in").click()
    assert page.locator("#zoom-level").inner_text() == "300%"
    centre_x = (EDIT_BOX[0] + EDIT_BOX[2] / 2) * 3
    centre_y = (EDIT_BOX[1] + EDIT_BOX[3] / 2) * 3
    seen = page.eval_on_selector(
        "#viewport",
        "el => [el.scrollLeft, el.scrollTop, el.clientWidth, el.clientHeight]",
    )
    assert seen[0] > 0  # not the top-left corner
    assert seen[0] <= centre_x <= seen[0] + seen[2]
    assert seen[1] <= centre_y <= seen[1] + seen[3]
    page.keyboard.press("0")
    assert page.locator("#zoom-level").inner_text() == "Fit"
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("1")
    assert page.locator("#zoom-level").inner_text() == "100%"
    page.screenshot(path=str(SCREENSHOTS / "item-verdict.png"), full_page=True)
    assert axe_violations(page) == []
    assert csp_violations(page) == []
    assert [line for line in console if "Failed to load resource" not in line] == []


def test_detector_only_verdict_outlines_the_strongest_areas(browser, live_server, personas):
    item = review_item_create(
        seed=32, label="likely_manipulated", probability=0.77, with_match=False
    )
    page = signed_in(browser, live_server, "moderator", f"/review/items/{item.pk}/")
    assert page.locator("#verdict-number").inner_text().startswith("77%")
    wait_until(page, "document.querySelectorAll('.box.map-region').length > 0")
    assert not visible(page, '[data-layer-view="heat"]')  # evidence shown without the heatmap
    box = page.locator(".box.map-region").first
    assert box.is_visible()
    assert box.get_by_text("Strongest area 1").count() == 1
    # The box sits over the map's blob (the factory's edit box).
    stage = page.locator("#stage").bounding_box()
    found = box.bounding_box()
    assert stage is not None and found is not None
    scale = stage["width"] / WIDTH
    centre = (found["x"] - stage["x"] + found["width"] / 2) / scale
    assert EDIT_BOX[0] <= centre <= EDIT_BOX[0] + EDIT_BOX[2]
    page.keyboard.press("g")
    assert not visible(page, '[data-layer-view="regions"]')
    page.screenshot(path=str(SCREENSHOTS / "item-detector-only.png"), full_page=True)
    page.locator(".verdict-details summary").click()
    assert axe_violations(page) == []


def test_wellness_preferences_and_explicit_regions(browser, live_server, personas):
    from moderation.models import Report

    item = review_item_create(seed=33)
    report = Report.objects.get(submission=item.submission, is_current=True)
    report.document = {
        **report.document,
        "sensitive_regions": [{"bbox": [48, 32, 96, 64], "label": "breast", "score": 0.9}],
    }
    report.save(update_fields=["document"])
    page = signed_in(browser, live_server, "moderator", f"/review/items/{item.pk}/")
    # Explicit regions are blurred for everyone by default, even with the wellness blur off.
    assert not page.locator("#stage").evaluate("el => el.classList.contains('blurred')")
    region = page.locator(".box.explicit-region")
    assert region.is_visible()
    assert "blur" in region.evaluate("el => getComputedStyle(el).backdropFilter")
    stage = page.locator("#stage").bounding_box()
    found = region.bounding_box()
    assert stage is not None and found is not None
    assert abs((found["x"] - stage["x"]) / stage["width"] - 48 / WIDTH) < 0.01
    # The swipe and side-by-side copies of the submitted image carry no boxes: blurred whole.
    copies = ".compare img.compare-query, .side-by-side img.sbs-query"

    def copies_blurred() -> list[bool]:
        return page.eval_on_selector_all(
            copies, "els => els.map((el) => getComputedStyle(el).filter.includes('blur'))"
        )

    assert copies_blurred() == [True, True]
    page.get_by_label("Explicit regions blurred").uncheck()
    assert not region.is_visible()
    assert copies_blurred() == [False, False]

    # Preferences: always blur and greyscale, applied to the next item page opened.
    page.get_by_role("link", name="Viewing preferences").click()
    page.get_by_label("Always blur images when an item opens").check()
    page.get_by_label("Show images in greyscale").check()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Save preferences").click()
    page.wait_for_url(f"{live_server.url}/review/items/{item.pk}/")
    assert page.locator("#stage").evaluate("el => el.classList.contains('blurred')")
    image_filter = page.eval_on_selector("#query-image", "el => getComputedStyle(el).filter")
    assert "blur" in image_filter and "grayscale" in image_filter
    # The blurred side-by-side images are clipped to their frames.
    assert page.eval_on_selector(
        ".side-by-side img", "el => getComputedStyle(el).clipPath"
    ).startswith("inset")
    page.screenshot(path=str(SCREENSHOTS / "item-wellness-preferences.png"), full_page=True)
    page.keyboard.press("b")
    assert not page.locator("#stage").evaluate("el => el.classList.contains('blurred')")
    assert "grayscale" in page.eval_on_selector("#query-image", "el => getComputedStyle(el).filter")
    assert axe_violations(page) == []


def test_the_page_shows_a_rendition_and_100_percent_loads_the_original(
    browser, live_server, personas
):
    from moderation.models import Report
    from tests.frontend.test_renditions import big_item

    item = big_item()
    report = Report.objects.get(submission=item.submission, is_current=True)
    metadata = {**report.document["metadata"], "width": 2400, "height": 1200, "format": "JPEG"}
    report.document = {**report.document, "metadata": metadata}
    report.save(update_fields=["document"])
    page = signed_in(browser, live_server, "moderator", f"/review/items/{item.pk}/")
    query = "document.querySelector('#query-image')"
    wait_until(page, f"{query}.complete && {query}.naturalWidth > 0")
    assert page.evaluate(f"() => {query}.naturalWidth") == 1600
    assert page.get_by_role("link", name="Original file").get_attribute("href") == (
        f"/review/items/{item.pk}/media"
    )
    page.get_by_role("button", name="Actual pixels (100%)").click()
    wait_until(page, f"{query}.complete && {query}.naturalWidth === 2400")
    assert page.eval_on_selector("#query-image", "el => el.getBoundingClientRect().width") == 2400


def test_text_in_the_image_its_boxes_and_the_fact_check_it_found(browser, live_server, personas):
    from factcheck.cases.selectors import case_link
    from moderation.models import Report
    from tests.moderation.test_text_in_image import published_case

    item = review_item_create(seed=35)
    case = published_case(personas, title="Bridge rumour", claim="The bridge collapsed today")
    report = Report.objects.get(submission=item.submission, is_current=True)
    lines = [
        {"text": "THE BRIDGE COLLAPSED", "bbox": [16, 8, 120, 20], "confidence": 0.97},
        {"text": "this morning", "bbox": [16, 40, 80, 16], "confidence": 0.91},
    ]
    related = {**case_link(case), "score": 0.83, "claim": "The bridge collapsed today"}
    report.document = {
        **report.document,
        "text_in_image": {"text": "THE BRIDGE COLLAPSED\nthis morning", "lines": lines},
        "related_fact_checks": [{**related, "matched_on": "text_in_image"}],
    }
    report.save(update_fields=["document"])
    console: list[str] = []
    page = signed_in(
        browser, live_server, "moderator", f"/review/items/{item.pk}/", console=console
    )
    block = page.locator("#text-in-image")
    assert block.locator("li").all_inner_texts() == [
        "THE BRIDGE COLLAPSED (97% sure)",
        "this morning (91% sure)",
    ]
    assert "found from the text in the image" in page.locator("#fact-checks").inner_text()

    # The boxes: hidden until toggled (also with T), then over the lines they name.
    toggle = page.get_by_label("Text boxes (2)")
    assert not visible(page, '[data-layer-view="text"]')
    toggle.check()
    assert visible(page, '[data-layer-view="text"]')
    boxes = page.locator(".box.text-line")
    assert boxes.count() == 2
    stage = page.locator("#stage").bounding_box()
    first = boxes.first.bounding_box()
    assert stage is not None and first is not None
    assert abs((first["x"] - stage["x"]) / stage["width"] - 16 / WIDTH) < 0.01
    assert abs(first["width"] / stage["width"] - 120 / WIDTH) < 0.01
    page.keyboard.press("t")
    assert not visible(page, '[data-layer-view="text"]')
    page.keyboard.press("t")
    assert visible(page, '[data-layer-view="text"]')
    assert axe_violations(page) == []
    assert csp_violations(page) == [] and console == []
