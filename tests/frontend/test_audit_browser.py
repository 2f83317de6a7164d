"""The audit log in a real browser (Playwright + Debian's Chromium), issue 18: at 1440 and 390 px
it does not scroll sideways even with long hashes and addresses, axe finds nothing, actions read
in words and the targets with a page are links to it."""

from __future__ import annotations

import pytest

from accounts.services import audit_record
from moderation.escalation import submission_escalate
from moderation.review import decision_make, item_claim
from tests.frontend.axe import axe_violations, sideways_overflow
from tests.frontend.browser import SCREENSHOTS, csp_violations, signed_in
from tests.moderation.review_factory import review_item_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def test_audit_log_fits_and_links_its_targets(browser, live_server, personas):
    moderator, admin = personas["moderator"], personas["admin"]
    item = review_item_create(seed=91)
    item_claim(item=item, user=moderator)
    decision_make(item=item, user=moderator, action="allow", rationale="Satire, labelled.")
    escalated = review_item_create(seed=92)
    case = submission_escalate(submission=escalated.submission, actor=moderator)
    audit_record(
        actor=admin,
        action="submission.reanalyze",
        target=item.submission,
        data={"sha256": SHA256, "media": f"media/{SHA256[:2]}/{SHA256}.png", "note": "x" * 120},
    )
    audit_record(actor=admin, action="webhook_secret.rotate", data={"secret_hash": SHA256 * 2})

    console: list[str] = []
    page = signed_in(browser, live_server, "admin", "/review/audit/", console=console)
    rows = page.locator("table.audit tbody tr")
    assert rows.count() >= 6

    # Actions in words, their codes beside them.
    actions = page.locator('table.audit td[data-label="Action"]').all_inner_texts()
    assert any(text.startswith("Decided: Allow") for text in actions)
    assert any(text.startswith("Case: escalated content into the case") for text in actions)
    assert "decision.allow" in " ".join(actions)
    # Targets with a page are links to it: the review item, the case, the submission's admin page.
    hrefs = page.locator('table.audit td[data-label="Target"] a').evaluate_all(
        "links => links.map(link => link.getAttribute('href'))"
    )
    assert f"/review/items/{item.pk}/" in hrefs
    assert f"/cases/{case.pk}/" in hrefs
    assert f"/admin/moderation/submission/{item.submission_id}/change/" in hrefs
    target = page.locator('table.audit td[data-label="Target"] a', has_text=f"case {case.pk}")
    target.first.click()
    page.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    page.go_back()

    for width, viewport in [(1440, {"width": 1440, "height": 1000}), (390, PHONE)]:
        page.set_viewport_size(viewport)
        page.goto(f"{live_server.url}/review/audit/")
        page.screenshot(path=str(SCREENSHOTS / f"audit-{width}.png"), full_page=True)
        assert axe_violations(page) == [], width
        # The table and its long values stay inside the page (the header's wrapping at 390 px
        # is the queue work's, tested there).
        assert sideways_overflow(page) <= 0, f"the audit log scrolls sideways at {width}"
        assert sideways_overflow(page, "table.audit") <= 0, width
    assert csp_violations(page) == []
    assert console == []
