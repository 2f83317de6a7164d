"""Public fact-check pages (no sign-in): one page per published case with its ClaimReview
JSON-LD embedded and its pictures (the verified original and the copy that circulated, its edits
marked), the pictures' image views, and a JSON Feed of published ClaimReviews.

An image is public only while its case is published and only when the page shows it
(moderation.case_pictures decides both); any other id answers 404, like a missing page.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from factcheck.cases.claimreview import claimreview_documents, claimreview_jsonld, organization
from factcheck.cases.models import Case
from factcheck.cases.selectors import published_cases
from factcheck.cases.workflow import rating_scale
from frontend.presenters import submission_sensitive
from mediastore.renditions import name_key
from mediastore.serving import display_file_response, media_file_response, stored_name
from moderation.case_pictures import CasePicture, case_pictures
from moderation.models import artifact_file_type

FEED_MAX_ITEMS = 100
# Same escaping as Django's json_script: the JSON cannot close the <script> element early.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def jsonld_script_body(document: dict[str, Any]) -> SafeString:
    return mark_safe(json.dumps(document, ensure_ascii=False).translate(_SCRIPT_ESCAPES))  # noqa: S308


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


def _published_case(slug: str) -> Case:
    case = published_cases().filter(slug=slug).prefetch_related("claims").first()
    if case is None:
        raise Http404("No published fact-check at this address.")
    return case


def _pictures_shown(case: Case) -> list[dict[str, Any]]:
    """What the page shows of each picture: its image links, and whether it opens blurred (the
    item page's rule, frontend.presenters.submission_sensitive, or explicit regions found)."""
    return [
        {
            "picture": picture,
            # Explicit regions are blurred for everyone on the item page; here the whole set.
            "sensitive": picture.explicit
            or submission_sensitive(submission=picture.submission, label=picture.label),
        }
        for picture in case_pictures(case)
    ]


@require_GET
def factcheck_page(request: HttpRequest, slug: str) -> HttpResponse:
    case = _published_case(slug)
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
            "pictures": _pictures_shown(case),
        },
    )


def _image(request: HttpRequest, file: FieldFile, content_type: str, key: str) -> HttpResponseBase:
    """The stored image, or with `?display=1` its display-sized rendition (as on the item page),
    with nosniff, a sandboxing CSP and a fixed safe file name (mediastore.serving)."""
    file_name = stored_name(file)
    stem = PurePath(file_name).stem
    if request.GET.get("display") == "1":
        return display_file_response(
            file_name=file_name, key=key, content_type=content_type, stem=stem
        )
    return media_file_response(file_name=file_name, content_type=content_type, stem=stem)


def _picture(slug: str, submission_id: int) -> CasePicture:
    for picture in case_pictures(_published_case(slug)):
        if picture.submission.pk == submission_id:
            return picture
    raise Http404("This fact-check shows no such picture.")


@require_GET
def factcheck_copy(request: HttpRequest, slug: str, submission_id: int) -> HttpResponseBase:
    """The copy that circulated, as submitted."""
    media = _picture(slug, submission_id).submission.media
    return _image(request, media.file, media.mime, media.sha256)


@require_GET
def factcheck_copy_edits(request: HttpRequest, slug: str, submission_id: int) -> HttpResponseBase:
    """The copy with its edits tinted and outlined (its current report's edit overlay)."""
    overlay = _picture(slug, submission_id).edit_overlay
    if overlay is None:
        raise Http404("This picture has no marked edits.")
    content_type = artifact_file_type(overlay.kind).content_type
    return _image(request, overlay.file, content_type, name_key(stored_name(overlay.file)))


@require_GET
def factcheck_original(request: HttpRequest, slug: str, reference_id: int) -> HttpResponseBase:
    """A verified original, only when a picture the page shows was matched to it."""
    for picture in case_pictures(_published_case(slug)):
        if picture.original is not None and picture.original.pk == reference_id:
            media = picture.original.media
            return _image(request, media.file, media.mime, media.sha256)
    raise Http404("This fact-check shows no such original.")


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
