"""The `browser` fixture: Playwright driving Debian's Chromium (see tests/frontend/browser.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from tests.frontend.browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright import sync_api

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


# How long a finished browser test's pages may take to finish the requests they started.
SETTLE_MS = 5_000


@pytest.fixture(autouse=True)
def _pages_settle_before_the_database_is_flushed(request: pytest.FixtureRequest) -> Iterator[None]:
    """A browser test's pages can still be fetching (images, overlays) when it ends; the live
    server's request then holds rows that the teardown's TRUNCATE waits on, and the two deadlock
    (seen in CI under load). Set up after the database fixture, this is torn down before it:
    every page finishes its requests (or SETTLE_MS passes) and its context is closed."""
    if "browser" not in request.fixturenames or "live_server" not in request.fixturenames:
        yield
        return
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    request.getfixturevalue("transactional_db")
    browser = request.getfixturevalue("browser")
    yield
    for context in list(browser.contexts):
        for page in context.pages:
            # A page that never settles is closed all the same.
            with contextlib.suppress(PlaywrightTimeout):
                page.wait_for_load_state("networkidle", timeout=SETTLE_MS)
        context.close()
