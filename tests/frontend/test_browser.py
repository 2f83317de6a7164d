"""The review UI in a real browser: Playwright driving Debian's Chromium against live_server.

Chromium comes from the Debian package (`make system-packages`); Playwright never downloads a
browser. Screenshots of the queue and item pages land in build/screenshots/.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from moderation.models import Decision, NearMissJudgement, ReviewItem
from tests.frontend.browser import PASSWORD, SCREENSHOTS, csp_violations, signed_in, wait_until
from tests.moderation.review_factory import (
    near_miss_entry,
    near_misses_set,
    reference_create,
    review_item_create,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def layer_visible(page, name: str) -> bool:
    return page.eval_on_selector(
        f'[data-layer-view="{name}"]', "el => getComputedStyle(el).display !== 'none'"
    )


def test_moderator_reviews_an_item_with_mouse_and_keyboard(browser, live_server, personas):
    item = review_item_create(seed=7, priority=5)
    review_item_create(
        seed=8, priority=2, label="likely_manipulated", probability=0.82, with_match=False
    )
    review_item_create(
        seed=9,
        priority=1,
        label="no_evidence",
        probability=0.07,
        with_match=False,
        platform="Other",
    )
    second = User.objects.create_user(username="moderator2", password=PASSWORD)
    second.groups.add(Group.objects.get(name="moderator"))

    page = signed_in(browser, live_server, "moderator", "/review/", timeout_ms=10_000)
    assert page.get_by_role("heading", name="Review queue").is_visible()
    assert page.locator(".item-link").count() == 3
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    page.get_by_role("button", name=f"Claim submission {item.submission_id}").click()
    page.wait_for_url(f"{live_server.url}/review/items/{item.pk}/")
    assert page.locator("#decision-form").is_visible()
    wait_until(page, "document.querySelector('[data-layer-view=tint]').width > 0")  # mask drawn

    # Overlays: tint and outline on by default, heatmap and faces off until toggled.
    assert layer_visible(page, "tint") and layer_visible(page, "outline")
    assert not layer_visible(page, "heat")
    page.get_by_label("Forensic heatmap").check()
    page.get_by_label("Face boxes").check()
    assert layer_visible(page, "heat") and layer_visible(page, "faces")
    page.get_by_label("Edit tint").uncheck()
    assert not layer_visible(page, "tint")
    page.keyboard.press("m")  # keyboard toggle brings it back
    assert layer_visible(page, "tint")
    assert page.locator(".box.face").first.is_visible()

    page.get_by_role("button", name="Zoom in").click()
    assert page.locator("#zoom-level").inner_text().endswith("%")
    page.keyboard.press("0")
    assert page.locator("#zoom-level").inner_text() == "Fit"

    # Swipe slider: the submitted image is clipped from the left at the slider position.
    slider = page.locator("#swipe")
    slider.fill("20")
    assert page.eval_on_selector("#compare", "el => el.style.getPropertyValue('--split')") == "20%"
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert slider.input_value() == "21"
    page.screenshot(path=str(SCREENSHOTS / "item.png"), full_page=True)

    # A second moderator sees the item as taken and cannot claim it, even by a forged POST.
    other = signed_in(browser, live_server, "moderator2", "/review/", timeout_ms=10_000)
    assert other.locator(".item-link").count() == 2
    other.goto(f"{live_server.url}/review/items/{item.pk}/")
    assert other.get_by_text("Being reviewed by moderator").is_visible()
    assert other.get_by_role("button", name="Claim for review").count() == 0
    other.evaluate(
        """async (url) => {
            const token = document.querySelector('[name=csrfmiddlewaretoken]').value;
            const body = new URLSearchParams({csrfmiddlewaretoken: token});
            await fetch(url, {method: 'POST', body: body});
        }""",
        f"/review/items/{item.pk}/claim/",
    )
    item.refresh_from_db()
    assert item.claimed_by.username == "moderator"

    # Decide with the keyboard: escalate without a rationale is refused by the form.
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("e")
    assert page.locator("input[value=escalate]").is_checked()
    page.keyboard.press("Control+Enter")
    assert page.url.endswith(f"/review/items/{item.pk}/")
    assert not Decision.objects.exists()
    page.keyboard.type("The hills are real but the object was pasted in; needs a fact-check.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Decision recorded: Escalate to a fact-check case.")
    # The next item opened (the default); the decided one keeps its audit trail.
    assert not page.url.endswith(f"/review/items/{item.pk}/")
    page.goto(f"{live_server.url}/review/items/{item.pk}/")
    assert page.locator("#audit-trail").get_by_text("decision.escalate").is_visible()
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewItem.Status.DECIDED
    page.screenshot(path=str(SCREENSHOTS / "item-decided.png"), full_page=True)

    # "n" takes the next item; "a" then Enter allows it.
    page.keyboard.press("n")
    page.wait_for_selector("#decision-form")
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Decision recorded: Allow.")
    assert Decision.objects.filter(action="allow").count() == 1


def test_sensitive_item_is_blurred_and_admin_sees_the_audit_entry(browser, live_server, personas):
    item = review_item_create(seed=11, metadata={"sensitive": True})
    page = signed_in(browser, live_server, "moderator", "/review/", timeout_ms=10_000)
    page.goto(f"{live_server.url}/review/items/{item.pk}/")
    assert page.locator("#stage").evaluate("el => el.classList.contains('blurred')")
    # The blur covers the flagged region too: nothing is drawn sharp over it.
    assert page.locator('[data-layer-view="sharp"]').count() == 0
    assert "blur" in page.eval_on_selector("#query-image", "el => getComputedStyle(el).filter")
    page.screenshot(path=str(SCREENSHOTS / "item-wellness-blur.png"), full_page=False)
    page.keyboard.press("b")
    assert not page.locator("#stage").evaluate("el => el.classList.contains('blurred')")
    page.keyboard.press("c")
    page.wait_for_selector("#decision-form")
    page.keyboard.press("r")
    page.keyboard.type("Fabricated scene.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Decision recorded: Remove.")

    admin = signed_in(browser, live_server, "admin", "/review/", timeout_ms=10_000)
    admin.get_by_role("link", name="Audit log").click()
    row = admin.locator("tr", has_text="decision.remove")
    assert row.count() == 1
    assert "moderator" in row.inner_text()
    admin.screenshot(path=str(SCREENSHOTS / "audit.png"), full_page=False)


def test_moderator_dismisses_a_near_miss(browser, live_server, personas):
    item = review_item_create(seed=12)
    candidate = reference_create(seed=112)
    near_misses_set(item, [near_miss_entry(candidate, reason="fine detail differs")])
    page = signed_in(browser, live_server, "moderator", f"/review/items/{item.pk}/")
    card = page.locator("#near-misses")
    assert card.get_by_role("heading", name="Closest original, not confirmed").is_visible()
    assert card.get_by_text("fine detail differs: perhaps another shot").is_visible()
    card.scroll_into_view_if_needed()  # the picture loads lazily, when a reviewer gets to it
    wait_until(page, "document.querySelector('#near-misses img').naturalWidth > 0")
    card.get_by_role("button", name="Not the original").click()
    page.wait_for_selector("text=Dismissed by moderator")
    assert page.url.endswith(f"/review/items/{item.pk}/#near-miss-{candidate.pk}")
    assert card.get_by_role("button", name="This is the original").is_visible()
    assert NearMissJudgement.objects.get().judgement == "dismissed"
    page.screenshot(path=str(SCREENSHOTS / "item-near-miss.png"), full_page=True)
    assert csp_violations(page) == []
