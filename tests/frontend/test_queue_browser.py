"""The review queue in a real browser: the keyboard, advancing after a decision, phones, axe."""

from __future__ import annotations

import pytest

from moderation.models import Decision, ReviewItem
from tests.frontend.axe import axe_violations
from tests.frontend.browser import SCREENSHOTS, csp_violations, signed_in
from tests.frontend.test_video_browser import wait_until
from tests.moderation.review_factory import review_item_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def selected_row(page) -> str | None:
    return page.evaluate(
        "() => { const row = document.querySelector('tr.queue-row.selected');"
        " return row ? row.dataset.item : null; }"
    )


def test_j_k_move_the_selection_and_o_opens_c_claims(browser, live_server, personas):
    items = [review_item_create(seed=seed, priority=10 - seed) for seed in (1, 2, 3)]
    console: list[str] = []
    page = signed_in(browser, live_server, "moderator", "/review/", console=console)
    wait_until(page, "document.querySelectorAll('img.thumb').length === 3")
    wait_until(page, "[...document.querySelectorAll('img.thumb')].every(i => i.naturalWidth > 0)")
    assert selected_row(page) is None
    page.keyboard.press("j")
    assert selected_row(page) == str(items[0].pk)
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")  # stays on the last row
    assert selected_row(page) == str(items[2].pk)
    page.keyboard.press("k")
    assert selected_row(page) == str(items[1].pk)
    # The selection is the focused link: visible and announced.
    assert page.evaluate("() => document.activeElement.classList.contains('item-link')")
    page.screenshot(path=str(SCREENSHOTS / "queue-selection.png"), full_page=True)
    page.keyboard.press("c")
    page.wait_for_url(f"{live_server.url}/review/items/{items[1].pk}/")
    assert ReviewItem.objects.get(pk=items[1].pk).status == ReviewItem.Status.CLAIMED
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(f"{live_server.url}/review/items/{items[0].pk}/")
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "f-q"
    page.keyboard.type("no such caption")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing waiting with these filters.")
    assert csp_violations(page) == []
    assert not [line for line in console if line.startswith("page error")], console


def test_deciding_an_item_opens_the_next_one(browser, live_server, personas):
    first = review_item_create(seed=1, priority=9)
    second = review_item_create(seed=2, priority=5)
    page = signed_in(browser, live_server, "moderator", "/review/")
    page.keyboard.press("n")
    page.wait_for_url(f"{live_server.url}/review/items/{first.pk}/")
    assert page.get_by_label("Then open the next item").is_checked()
    page.keyboard.press("a")
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{live_server.url}/review/items/{second.pk}/")
    assert page.get_by_text("Decision recorded: Allow.").is_visible()
    assert page.locator("#decision-form").is_visible()  # already claimed for me
    # Unticked, the next decision stays on its item.
    page.get_by_label("Then open the next item").uncheck()
    page.keyboard.press("a")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Decision recorded: Allow.")
    assert page.url == f"{live_server.url}/review/items/{second.pk}/"
    assert Decision.objects.count() == 2


@pytest.mark.parametrize("path", ["/", "/review/", "item"])
def test_no_page_scrolls_sideways_on_a_phone(browser, live_server, personas, path):
    item = review_item_create(seed=1, text="A caption " + "that goes on " * 20)
    review_item_create(seed=2)
    target = f"/review/items/{item.pk}/" if path == "item" else path
    page = signed_in(browser, live_server, "moderator", target)
    page.set_viewport_size(PHONE)
    page.reload()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{target} is {width} px wide"
    sign_out = page.get_by_role("button", name="Sign out")
    box = sign_out.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    name = "home" if path == "/" else "queue" if path == "/review/" else "item"
    page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=True)


def axe_check(page, within: str | None = None) -> None:
    """No axe-core violation on the page as it is now (or, with `within`, in the card holding
    that element: the parts of a page this work added)."""
    assert axe_violations(page, within=within) == []


def test_axe_finds_no_violation_on_the_queue(browser, live_server, personas):
    review_item_create(seed=1)
    review_item_create(seed=2)
    page = signed_in(browser, live_server, "moderator", "/review/?q=hills")
    page.keyboard.press("j")
    axe_check(page)
    page.set_viewport_size(PHONE)
    axe_check(page)


def test_a_group_decision_decides_every_member_once(browser, live_server, personas):
    lead = review_item_create(seed=1, priority=9)
    copies = [review_item_create(seed=1, priority=5), review_item_create(seed=1, priority=4)]
    review_item_create(seed=2, priority=1)  # another picture: not in the group
    page = signed_in(browser, live_server, "moderator", "/review/")
    assert page.get_by_text("3 in group").count() == 3
    page.get_by_role("button", name=f"Claim submission {lead.submission_id}").click()
    page.wait_for_url(f"{live_server.url}/review/items/{lead.pk}/")
    page.get_by_label("Apply to all 3 items of this group").check()
    page.get_by_label("Then open the next item").uncheck()
    page.keyboard.press("r")
    page.keyboard.type("The same hoax picture.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Decision recorded: Remove, for 3 items of the group.")
    for member in [lead, *copies]:
        assert Decision.objects.filter(item=member, action="remove").count() == 1
    assert Decision.objects.count() == 3
    assert csp_violations(page) == []


def test_undo_is_offered_for_a_stated_time_and_u_undoes(browser, live_server, personas):
    first = review_item_create(seed=1, priority=9)
    second = review_item_create(seed=2, priority=5)
    page = signed_in(browser, live_server, "moderator", "/review/")
    page.keyboard.press("n")
    page.wait_for_url(f"{live_server.url}/review/items/{first.pk}/")
    # No action chosen yet: no canned rationale is offered.
    assert page.evaluate(
        "() => [...document.querySelectorAll('#canned-rationale optgroup')].every(g => g.disabled)"
    )
    page.keyboard.press("a")
    page.get_by_label("Common rationale").select_option(
        label="Satire or art, clearly presented as such."
    )
    assert page.locator("#rationale").input_value() == "Satire or art, clearly presented as such."
    page.get_by_role("button", name="Record decision").click()
    page.wait_for_url(f"{live_server.url}/review/items/{second.pk}/")
    bar = page.locator("#undo-bar")
    assert "can be undone for 30 seconds" in bar.inner_text()
    start = int(page.locator(".undo-seconds").inner_text())
    wait_until(page, f"Number(document.querySelector('.undo-seconds').textContent) < {start}")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("u")
    page.wait_for_url(f"{live_server.url}/review/items/{first.pk}/")
    assert page.get_by_text("Decision undone").is_visible()
    assert page.locator("#decision-form").is_visible()  # mine again, to decide anew
    decision = Decision.objects.get()
    assert decision.undone_at is not None
    assert decision.rationale == "Satire or art, clearly presented as such."
    assert csp_violations(page) == []


def test_every_main_page_fits_a_phone_with_sign_out_reachable(browser, live_server, personas):
    from factcheck.cases.models import Case

    item = review_item_create(seed=1)
    admin = personas["admin"]
    case = Case.objects.create(title="A claim about the hills " * 4, created_by=admin)
    page = signed_in(browser, live_server, "admin", "/review/")
    page.set_viewport_size(PHONE)
    wide = {}
    for path in [
        "/",
        "/review/",
        f"/review/items/{item.pk}/",
        "/review/decisions/",
        "/review/audit/",
        "/cases/",
        f"/cases/{case.pk}/",
        "/cases/new/",
    ]:
        page.goto(f"{live_server.url}{path}")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        box = page.get_by_role("button", name="Sign out").bounding_box()
        if width > PHONE["width"] or box is None or box["x"] + box["width"] > PHONE["width"]:
            wide[path] = width
    assert wide == {}


def test_axe_finds_no_violation_on_the_decision_card_and_my_decisions(
    browser, live_server, personas
):
    first = review_item_create(seed=1, priority=9)
    review_item_create(seed=1, priority=5)  # same media: the group choice shows
    page = signed_in(browser, live_server, "moderator", f"/review/items/{first.pk}/")
    page.get_by_role("button", name="Claim for review").click()
    page.wait_for_selector("#decision-form")
    assert page.get_by_label("Assign to someone else").is_visible()
    axe_check(page, "#decision-title")
    page.locator(".decision-card").screenshot(path=str(SCREENSHOTS / "decision-card.png"))
    page.keyboard.press("a")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#undo-bar")
    axe_check(page, "#undo-bar")
    page.screenshot(path=str(SCREENSHOTS / "undo-bar.png"))
    page.goto(f"{live_server.url}/review/decisions/")
    assert page.get_by_role("button", name=f"Undo the decision on submission {first.submission_id}")
    axe_check(page)
    page.set_viewport_size(PHONE)
    axe_check(page)
