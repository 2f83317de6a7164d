"""Escalate -> case -> evidence -> rate -> publish in a real browser (Playwright + Debian's
Chromium), ending with the public page's ClaimReview JSON-LD parsed and checked.

Screenshots of the case pages land in build/screenshots/.
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from factcheck.cases.models import Case
from moderation.models import ReviewItem
from tests.frontend.browser import SCREENSHOTS, signed_in
from tests.moderation.review_factory import review_item_create, scene

CLAIMREVIEW_REQUIRED = (
    "url",
    "claimReviewed",
    "reviewRating",
    "itemReviewed",
    "author",
    "datePublished",
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def test_escalate_then_fact_check_and_publish(browser, live_server, personas, tmp_path):
    item = review_item_create(seed=21, text="UFO photographed over the hills this morning")

    # A moderator escalates the item from the review page.
    moderator = signed_in(browser, live_server, "moderator", f"/review/items/{item.pk}/")
    moderator.get_by_role("button", name="Claim for review").click()
    moderator.wait_for_selector("#decision-form")
    moderator.locator("input[value=escalate]").check()
    moderator.locator("#rationale").fill("The object looks pasted in; needs a fact-check.")
    moderator.locator("#decision-form button[type=submit]").first.click()
    moderator.wait_for_selector("text=Decision recorded: Escalate to a fact-check case.")
    assert ReviewItem.objects.get(pk=item.pk).status == ReviewItem.Status.DECIDED
    case = Case.objects.filter(case_submissions__submission=item.submission).first()
    assert case is not None, (
        "escalating did not open a case: moderation.review.escalation_open must call "
        "moderation.escalation.submission_escalate"
    )

    # A fact-checker finds it in the case list and opens it: the submission and its overlays.
    checker = signed_in(browser, live_server, "fact_checker", "/cases/")
    checker.get_by_role("link", name=f"#{case.pk} UFO photographed").click()
    checker.wait_for_url(f"{live_server.url}/cases/{case.pk}/")
    assert checker.get_by_text("Linked submissions").is_visible()
    assert checker.locator(".side-by-side img").count() >= 2  # submitted + report overlays

    # Evidence: the original photo, uploaded and marked as a verified original.
    # The agency's JPEG of the scene (the factory already indexed a PNG of it as another original).
    original = tmp_path / "original.jpg"
    buffer = io.BytesIO()
    Image.fromarray(scene(21)).save(buffer, format="JPEG", quality=95)
    original.write_bytes(buffer.getvalue())
    checker.locator("summary", has_text="Add evidence").click()
    checker.locator("#e-kind").select_option("media")
    checker.locator("#e-media").set_input_files(str(original))
    checker.locator("#e-note").fill("Original from the photographer's agency")
    checker.get_by_role("button", name="Add evidence").click()
    checker.wait_for_selector("text=Evidence added.")
    evidence = case.evidence.get()
    checker.locator(f'[data-testid="evidence-{evidence.pk}"] summary').first.click()
    checker.locator(f"#v-source-{evidence.pk}").fill("Example Agency")
    checker.locator(f"#v-credit-{evidence.pk}").fill("J. Doe / Example Agency")
    checker.locator(f"#v-licence-{evidence.pk}").fill("editorial use")
    checker.get_by_role("button", name="Add to the index").click()
    checker.wait_for_selector(f'[data-testid="verified-{evidence.pk}"]')
    evidence.refresh_from_db()
    assert evidence.reference.credit == "J. Doe / Example Agency"
    assert evidence.reference.licence == "editorial use"

    # Workflow, rating, publishing.
    checker.locator("#w-status").select_option("investigating")
    checker.get_by_role("button", name="Move", exact=True).click()
    checker.wait_for_selector("text=Case is now investigating.")
    checker.locator("#r-rating").select_option("altered")
    checker.locator("#r-expl").fill("The original photo shows empty sky; the object was added.")
    checker.get_by_role("button", name="Rate", exact=True).click()
    checker.wait_for_selector("text=Rated altered.")
    checker.get_by_role("button", name="Publish fact-check").click()
    checker.wait_for_selector("text=Published.")
    assert checker.locator('[data-testid="case-status"]').inner_text() == "published"
    checker.screenshot(path=str(SCREENSHOTS / "case-published.png"), full_page=True)

    # The public page carries valid ClaimReview JSON-LD.
    checker.locator('[data-testid="public-link"]').click()
    case.refresh_from_db()
    checker.wait_for_url(f"{live_server.url}/factchecks/{case.slug}/")
    checker.screenshot(path=str(SCREENSHOTS / "factcheck-public.png"), full_page=True)
    scripts = checker.locator('script[type="application/ld+json"]')
    assert scripts.count() == 1
    review = json.loads(scripts.first.text_content())
    assert review["@context"] == "https://schema.org" and review["@type"] == "ClaimReview"
    for field in CLAIMREVIEW_REQUIRED:
        assert review[field], field
    assert review["claimReviewed"] == "UFO photographed over the hills this morning"
    assert review["url"] == f"{live_server.url}/factchecks/{case.slug}/"
    rating = review["reviewRating"]
    assert (rating["ratingValue"], rating["bestRating"], rating["worstRating"]) == (2, 5, 1)
    assert rating["alternateName"] == "Altered"
    assert review["itemReviewed"]["@type"] == "Claim"
    assert review["author"]["@type"] == "Organization" and review["author"]["name"]
