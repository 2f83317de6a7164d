"""Playwright helpers for the browser tests (Debian's Chromium; never a downloaded browser).

Chromium comes from the Debian package (`make system-packages`, run by `make test`).
Screenshots land in build/screenshots/ to be looked at.
"""

from __future__ import annotations

import time
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


# Records every Content-Security-Policy violation of every page of a context (the event fires on
# the document for blocked scripts, styles, images, frames, forms...).
CSP_WATCH_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.effectiveDirective + " blocked " + (event.blockedURI ||
    "inline") + " in " + event.documentURI + " (" + (event.sourceFile || "") + ":" +
    event.lineNumber + ")");
});
"""


def csp_violations(page) -> list[str]:
    """The violations recorded on the page now shown (see CSP_WATCH_SCRIPT)."""
    return page.evaluate("window.__cspViolations || []")


def signed_in(
    browser,
    live_server,
    username: str,
    path: str,
    timeout_ms: int = 15_000,
    console: list[str] | None = None,
):
    """A fresh browser context signed in as `username`, left on `path`. CSP violations are
    recorded (csp_violations); with `console`, the pages' console errors are appended to it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(timeout_ms)
    context.add_init_script(CSP_WATCH_SCRIPT)
    page = context.new_page()
    if console is not None:
        page.on(
            "console",
            lambda message: console.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: console.append(f"page error: {error}"))
    page.goto(f"{live_server.url}{path}")
    assert "/accounts/login/" in page.url  # anonymous users are sent to sign in
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}{path}")
    return page


def wait_until(page, expression: str, timeout_s: float = 10.0) -> None:
    """Poll `expression` in the page until it is true. Playwright's wait_for_function evaluates
    a string with eval, which the page's Content-Security-Policy refuses."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        page.wait_for_timeout(50)
