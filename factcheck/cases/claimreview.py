"""schema.org ClaimReview JSON-LD for published cases (one ClaimReview per claim).

Settings: CLAIMREVIEW_ORGANIZATION_NAME and CLAIMREVIEW_ORGANIZATION_URL name the publisher.
Absolute URLs need the site's address, so callers pass `base_url` (from the request).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from factcheck.cases.models import Case, Claim
from factcheck.cases.workflow import rating_scale
from mediastore.links import http_url

SCHEMA_CONTEXT = "https://schema.org"


def public_path(case: Case) -> str:
    return reverse("factcheck-public", kwargs={"slug": case.slug})


def claimreview_api_path(case: Case) -> str:
    return reverse("api-case-claimreview", kwargs={"pk": case.pk})


def organization() -> dict[str, Any]:
    org: dict[str, Any] = {
        "@type": "Organization",
        # Defaults ("Provenant", no URL): config/settings/base.py.
        "name": settings.CLAIMREVIEW_ORGANIZATION_NAME,
    }
    url = settings.CLAIMREVIEW_ORGANIZATION_URL
    if url:
        org["url"] = url
    return org


def _item_reviewed(claim: Claim) -> dict[str, Any]:
    item: dict[str, Any] = {"@type": "Claim"}
    if claim.claimant:
        item["author"] = {"@type": "Organization", "name": claim.claimant}
    if claim.appearance_date:
        item["datePublished"] = claim.appearance_date.isoformat()
    # Published documents carry http(s) links only, whatever an older row holds.
    appearance_url = http_url(claim.appearance_url)
    if appearance_url:
        item["appearance"] = [{"@type": "CreativeWork", "url": appearance_url}]
        item["firstAppearance"] = {"@type": "CreativeWork", "url": appearance_url}
    return item


def claimreview_for_claim(case: Case, claim: Claim, *, base_url: str) -> dict[str, Any]:
    """One ClaimReview: the claim, the case's rating and the public page it is published on."""
    if case.published_at is None or not case.slug or not case.rating:
        raise ValueError(f"case {case.pk} is not published")
    scale = rating_scale()
    review: dict[str, Any] = {
        "@context": SCHEMA_CONTEXT,
        "@type": "ClaimReview",
        "url": base_url.rstrip("/") + public_path(case),
        "claimReviewed": claim.text,
        "datePublished": case.published_at.date().isoformat(),
        "author": organization(),
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": case.rating_value,
            "bestRating": case.rating_best,
            "worstRating": case.rating_worst,
            "alternateName": scale.alternate_name(case.rating),
        },
        "itemReviewed": _item_reviewed(claim),
    }
    if case.corrected_at is not None:
        review["dateModified"] = case.corrected_at.isoformat()
    if claim.language:
        review["inLanguage"] = claim.language
    if case.explanation:
        review["reviewBody"] = case.explanation
    review["name"] = case.title
    return review


def claimreview_documents(case: Case, *, base_url: str) -> list[dict[str, Any]]:
    return [claimreview_for_claim(case, claim, base_url=base_url) for claim in case.claims.all()]


def claimreview_jsonld(case: Case, *, base_url: str) -> dict[str, Any]:
    """The JSON-LD document: the ClaimReview itself for one claim, an @graph for several."""
    documents = claimreview_documents(case, base_url=base_url)
    if len(documents) == 1:
        return documents[0]
    for document in documents:
        document.pop("@context")
    return {"@context": SCHEMA_CONTEXT, "@graph": documents}
