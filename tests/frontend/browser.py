"""Playwright helpers for the browser tests (Debian's Chromium; never a downloaded browser).

Chromium comes from the Debian package (`make system-packages`, run by `make test`).
Screenshots land in build/screenshots/ to be looked at.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PASSWORD = "correct horse battery"  # the personas' password (tests/conftest.py)


def signed_in(browser, live_server, username: str, path: str, timeout_ms: int = 15_000):  # type: ignore[no-untyped-def]
    """A fresh browser context signed in as `username`, left on `path`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    page.goto(f"{live_server.url}{path}")
    assert "/accounts/login/" in page.url  # anonymous users are sent to sign in
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}{path}")
    return page
