"""Every page of the UI at a desktop and a phone width: axe-core finds no violation, nothing
scrolls sideways, and no page breaks its Content-Security-Policy. The API documentation pages
(Swagger UI and Redoc, served as their projects ship them) are held to the last two only: their
own markup has axe findings (contrast, heading order) that are theirs to fix."""

from __future__ import annotations

import pytest

from tests.frontend.axe import axe_violations, sideways_overflow
from tests.frontend.browser import csp_violations, signed_in
from tests.frontend.test_factcheck_pictures import escalated, item_with_overlay, publish

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTHS = (1440, 390)
THIRD_PARTY_PAGES = ("/api/docs/", "/api/redoc/")


def test_every_page_passes_axe_and_fits_at_desktop_and_phone_widths(browser, live_server, personas):
    item = item_with_overlay(61)
    case = publish(escalated(item, personas), personas)
    pages = [
        "/",
        "/review/",
        f"/review/items/{item.pk}/",
        "/review/decisions/",
        "/review/preferences/",
        "/review/audit/",
        "/cases/",
        f"/cases/{case.pk}/",
        "/cases/new/",
        f"/factchecks/{case.slug}/",
        *THIRD_PARTY_PAGES,
    ]
    page = signed_in(browser, live_server, "admin", "/")
    found: dict[str, list[str]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path in pages:
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, path
            page.wait_for_load_state("networkidle")
            problems = [] if path in THIRD_PARTY_PAGES else axe_violations(page)
            if sideways_overflow(page) > 0:
                problems.append(f"scrolls sideways by {sideways_overflow(page)} px")
            problems += [f"CSP: {violation}" for violation in csp_violations(page)]
            if problems:
                found[f"{path} at {width} px"] = problems
    assert found == {}
