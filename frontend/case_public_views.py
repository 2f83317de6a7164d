"""Public fact-check pages (no sign-in): one page per published case with its ClaimReview
JSON-LD embedded, and a JSON Feed of published ClaimReviews."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from factcheck.cases.claimreview import claimreview_documents, claimreview_jsonld, organization
from factcheck.cases.selectors import published_cases
from factcheck.cases.workflow import rating_scale

FEED_MAX_ITEMS = 100
# Same escaping as Django's json_script: the JSON cannot close the <script> element early.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def jsonld_script_body(document: dict[str, Any]) -> SafeString:
    return mark_safe(json.dumps(document, ensure_ascii=False).translate(_SCRIPT_ESCAPES))  # noqa: S308


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@require_GET
def factcheck_page(request: HttpRequest, slug: str) -> HttpResponse:
    case = published_cases().filter(slug=slug).prefetch_related("claims").first()
    if case is None:
        raise Http404("No published fact-check at this address.")
    document = claimreview_jsonld(case, base_url=_base_url(request))
    return render(
        request,
        "frontend/cases/public.html",
        {
            "case": case,
            "claims": case.claims.all(),
            "rating_name": rating_scale().alternate_name(case.rating),
            "organization": organization(),
            "jsonld": jsonld_script_body(document),
        },
    )


@require_GET
def factcheck_feed(request: HttpRequest) -> JsonResponse:
    """JSON Feed 1.1; each item carries its ClaimReview documents under `_claimreview`."""
    base_url = _base_url(request)
    items = []
    for case in published_cases().prefetch_related("claims")[:FEED_MAX_ITEMS]:
        reviews = claimreview_documents(case, base_url=base_url)
        items.append(
            {
                "id": reviews[0]["url"] if reviews else str(case.pk),
                "url": reviews[0]["url"] if reviews else None,
                "title": case.title,
                "content_text": case.explanation,
                "date_published": case.published_at.isoformat() if case.published_at else None,
                "date_modified": (
                    case.corrected_at or case.published_at or case.updated_at
                ).isoformat(),
                "_claimreview": reviews,
            }
        )
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"{organization()['name']} fact-checks",
        "home_page_url": base_url,
        "feed_url": request.build_absolute_uri(request.path),
        "items": items,
    }
    return JsonResponse(feed, json_dumps_params={"ensure_ascii": False})
