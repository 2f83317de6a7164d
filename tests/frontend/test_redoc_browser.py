"""The Redoc API reference (/api/redoc/) in a real browser (Playwright + Debian's Chromium): it
renders the API's title and operations offline, every request goes to the test server (no
fonts, scripts or logos from elsewhere), and its own policy reports no violation."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.frontend.browser import CSP_WATCH_SCRIPT, SCREENSHOTS, csp_violations
from tests.frontend.test_video_browser import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_redoc_renders_offline_without_csp_violations(browser, live_server):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(CSP_WATCH_SCRIPT)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/api/redoc/")
    page.get_by_role("heading", name="Provenant API").first.wait_for()
    wait_until(page, "document.querySelectorAll('.operation-type').length > 10")
    body = page.locator("body").inner_text()
    assert "Provenant API" in body
    # Operations are listed by their summaries (config.openapi), with their methods and paths.
    assert "/api/v1/submissions/" in body
    assert "/api/v1/webhooks/inbound/{client}/" in body
    # Search works (its worker is built from the bundle as a blob: URL).
    page.get_by_placeholder("Search...").fill("claimreview")
    wait_until(page, "document.querySelectorAll('[data-role=\"search:results\"] li').length")
    results = page.locator('[data-role="search:results"] li').all_inner_texts()
    assert any("ClaimReview" in text for text in results)
    page.wait_for_timeout(300)  # let late images and fonts start, if any would
    page.screenshot(path=str(SCREENSHOTS / "redoc-1440.png"))

    server = urlsplit(live_server.url).netloc
    elsewhere = [
        url for url in requested if urlsplit(url).scheme in ("http", "https")
        and urlsplit(url).netloc != server
    ]  # fmt: skip
    assert elsewhere == []
    assert csp_violations(page) == []
    assert errors == []
    fonts = page.evaluate("() => Array.from(document.fonts).map(font => font.family)")
    assert fonts == []  # no web font is declared, let alone fetched
    context.close()
