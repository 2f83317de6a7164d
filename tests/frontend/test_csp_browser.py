"""The Content-Security-Policy in a real browser (Playwright + Debian's Chromium): the main pages
load with zero violations and still work (overlays drawn, Swagger UI sending a CSRF-protected
POST, admin actions). A violation would mean a blocked script or style, i.e. a broken page."""

from __future__ import annotations

import pytest

from factcheck.cases.models import Case
from factcheck.cases.services import case_publish, case_rate, case_transition
from tests.frontend.browser import SCREENSHOTS, csp_violations, signed_in, wait_until
from tests.moderation.review_factory import review_item_create

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def visit(page, live_server, path: str, ready: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")


def assert_clean(page, console: list[str], name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"csp-{name}.png"), full_page=False)
    assert csp_violations(page) == [], name
    csp_errors = [line for line in console if "Content Security Policy" in line]
    assert csp_errors == [], name
    assert not [line for line in console if line.startswith("page error")], (name, console)


def test_main_pages_load_without_csp_violations(browser, live_server, personas):
    item = review_item_create(seed=7, metadata={"author": {"name": "@x"}})
    console: list[str] = []
    moderator = signed_in(browser, live_server, "moderator", "/review/", console=console)
    assert_clean(moderator, console, "login-and-queue")

    visit(moderator, live_server, f"/review/items/{item.pk}/", "#query-image")
    wait_until(moderator, "document.querySelector('[data-layer-view=tint]').width > 0")
    moderator.get_by_label("Face boxes").check()
    # Sizes that used to be style="" attributes, now applied by review.js.
    box = moderator.locator(".box.face").first.bounding_box()
    stage = moderator.locator("#stage").bounding_box()
    assert box["width"] > 0.1 * stage["width"] and box["x"] > stage["x"]
    moderator.locator(".verdict-details summary").click()  # the detectors' meters are inside
    assert moderator.locator(".meter span").first.evaluate("el => el.offsetWidth") > 0
    compare = moderator.locator("#compare").bounding_box()
    assert compare["height"] > 0.5 * compare["width"]  # 480 x 320: the original sizes the box
    assert_clean(moderator, console, "item")

    moderator.get_by_role("button", name="Claim for review").click()
    moderator.wait_for_selector("#decision-form")
    moderator.locator("input[value=escalate]").check()
    moderator.locator("#rationale").fill("Needs a fact-check.")
    moderator.locator("#decision-form button[type=submit]").first.click()
    moderator.wait_for_selector("text=Decision recorded: Escalate to a fact-check case.")
    assert_clean(moderator, console, "item-decided")

    case = Case.objects.get(case_submissions__submission=item.submission)
    checker_console: list[str] = []
    checker = signed_in(
        browser, live_server, "fact_checker", f"/cases/{case.pk}/", console=checker_console
    )
    checker.locator("summary", has_text="Add a claim").click()
    assert checker.locator("#cl-url").is_visible()
    assert_clean(checker, checker_console, "case")
    actor = personas["fact_checker"]
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="false", explanation="Made up.")
    case_publish(case=case, actor=actor)
    visit(checker, live_server, f"/factchecks/{case.slug}/", "article.factcheck")
    assert checker.locator('script[type="application/ld+json"]').count() == 1
    assert_clean(checker, checker_console, "public")

    # API documentation: Swagger UI lists the operations and sends a POST with the session; the
    # CSRF token comes from its init script, the cookie being HttpOnly.
    visit(checker, live_server, "/api/docs/", ".swagger-ui .opblock")
    assert checker.locator(".swagger-ui .opblock").count() > 10
    operation = checker.locator(".opblock-post", has_text="/api/v1/cases/").first
    operation.locator(".opblock-summary").first.click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill('{"title": "Opened from the API docs"}')
    operation.get_by_role("button", name="Execute").click()
    operation.locator(".live-responses-table tr.response .response-col_status").first.wait_for()
    status = operation.locator(
        ".live-responses-table tr.response .response-col_status"
    ).first.inner_text()
    assert status.strip() == "201", status
    assert Case.objects.filter(title="Opened from the API docs").exists()
    assert_clean(checker, checker_console, "api-docs")


def test_admin_pages_load_without_csp_violations(browser, live_server, personas):
    admin_user = personas["admin"]
    admin_user.is_staff = True  # the admin site also needs staff status
    admin_user.save(update_fields=["is_staff"])
    item = review_item_create(seed=8)
    console: list[str] = []
    admin = signed_in(browser, live_server, "admin", "/review/", console=console)
    visit(admin, live_server, "/admin/", "#content")
    assert_clean(admin, console, "admin")
    visit(admin, live_server, "/admin/moderation/submission/", "#changelist")
    admin.locator("#changelist input.action-select").first.check()  # actions.js runs
    assert admin.locator(".action-counter").inner_text().startswith("1 of")
    assert_clean(admin, console, "admin-changelist")
    visit(admin, live_server, f"/admin/moderation/submission/{item.submission_id}/change/", "form")
    assert_clean(admin, console, "admin-change")
    visit(admin, live_server, "/admin/accounts/user/add/", "form")
    assert_clean(admin, console, "admin-add-user")
