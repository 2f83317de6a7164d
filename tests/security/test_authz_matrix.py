"""Authorization matrix: every URL pattern in the URLconf, for every persona, answers the status
in EXPECTED. Path parameters are real objects of tenant A (client "own_client"); tenant B
("outsider_client") must never see or touch them. A URL pattern missing from EXPECTED fails the
test, so a new view cannot ship unclassified.

Writes are sent with an empty body: a persona allowed to act gets a 400 (or a 302 back to the
form in the UI), one that is not gets 401/403/404. Each request runs in a rolled-back
transaction, so one persona's request never changes what the next one sees.

Regenerate the table after a deliberate change: AUTHZ_MATRIX_PRINT=1 pytest -s this file, then
review every changed cell before pasting it.
"""

from __future__ import annotations

import copy
import os
import re

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from .conftest import PERSONAS

pytestmark = pytest.mark.django_db

P = PERSONAS  # anonymous, outsider_client, own_client, moderator, fact_checker, admin, outsider


# Reviewed by hand; columns in PERSONAS order:
#   anonymous  outsider_client  own_client  moderator  fact_checker  admin  outsider (no role)
# UI pages take session logins only (tokens are for the API): anonymous and clients go to the
# login page (302). A UI write that is allowed redirects back to the page (302). Tenant B gets
# 404 for tenant A's submissions and deliveries (not 403: it must not learn that they exist).
# /admin/ is Django's admin site, for is_staff users only (none of the personas).
# A published case's ClaimReview JSON-LD is public; any other case answers 404 to everyone alike.
# A published fact-check's pictures are public; another case's (here a draft's) are 404 to all.
TABLE = """
DELETE /api/v1/references/{pk}/ | 401 403 403 403 204 204 403
GET / | 302 302 302 200 200 200 200
GET /accounts/login/ | 200 200 200 200 200 200 200
GET /admin/ | 302 302 302 302 302 302 302
GET /api/docs/ | 200 200 200 200 200 200 200
GET /api/redoc/ | 200 200 200 200 200 200 200
GET /api/schema/ | 200 200 200 200 200 200 200
GET /api/v1/cases/ | 401 403 403 200 200 200 403
GET /api/v1/cases/related/ | 401 403 403 400 400 400 403
GET /api/v1/cases/{pk}/ | 401 403 403 200 200 200 403
GET /api/v1/cases/{pk}/claimreview/ | 404 404 404 404 404 404 404
GET /api/v1/cases/{pk}/comments/ | 401 403 403 200 200 200 403
GET /api/v1/cases/{pk}/evidence/ | 401 403 403 200 200 200 403
GET /api/v1/deliveries/ | 401 200 200 403 403 403 403
GET /api/v1/deliveries/{pk}/ | 401 404 200 403 403 403 403
GET /api/v1/me/ | 401 200 200 200 200 200 200
GET /api/v1/references/ | 401 403 403 200 200 200 403
GET /api/v1/references/{pk}/ | 401 403 403 200 200 200 403
GET /api/v1/submissions/ | 401 200 200 200 200 200 403
GET /api/v1/submissions/{pk}/ | 401 404 200 200 200 200 403
GET /api/v1/submissions/{pk}/artifacts/annotated.mp4 | 401 404 404 404 404 404 403
GET /api/v1/submissions/{pk}/artifacts/{kind}.png | 401 404 200 200 200 200 403
GET /api/v1/submissions/{pk}/report/ | 401 404 200 200 200 200 403
GET /cases/ | 302 302 302 200 200 200 403
GET /cases/new/ | 302 302 302 403 200 200 403
GET /cases/references/ | 302 302 302 403 200 200 403
GET /cases/{pk}/ | 302 302 302 200 200 200 403
GET /cases/{pk}/evidence/{evidence_id}/image | 302 302 302 200 200 200 403
GET /cases/{pk}/overlays/{artifact_id}.png | 302 302 302 200 200 200 403
GET /cases/{pk}/submissions/{submission_id}/image | 302 302 302 200 200 200 403
GET /factchecks/feed.json | 200 200 200 200 200 200 200
GET /factchecks/{slug}/ | 200 200 200 200 200 200 200
GET /factchecks/{slug}/copies/{submission_id} | 404 404 404 404 404 404 404
GET /factchecks/{slug}/copies/{submission_id}/edits.png | 404 404 404 404 404 404 404
GET /factchecks/{slug}/originals/{reference_id} | 404 404 404 404 404 404 404
GET /favicon.ico | 302 302 302 302 302 302 302
GET /healthz | 200 200 200 200 200 200 200
GET /readyz | 200 200 200 200 200 200 200
GET /review/ | 302 302 302 200 200 200 403
GET /review/audit/ | 302 302 302 403 403 200 403
GET /review/decisions/ | 302 302 302 200 200 200 403
GET /review/items/{pk}/ | 302 302 302 200 200 200 403
GET /review/items/{pk}/media | 302 302 302 200 200 200 403
GET /review/items/{pk}/references/{reference_id} | 302 302 302 200 200 200 403
GET /review/items/{pk}/reports/{version}/{kind}.png | 302 302 302 200 200 200 403
GET /review/items/{pk}/thumbnail.jpg | 302 302 302 200 200 200 403
GET /review/preferences/ | 302 302 302 200 200 200 403
POST /accounts/logout/ | 302 302 302 302 302 302 302
POST /api/v1/cases/ | 401 403 403 400 400 400 403
POST /api/v1/cases/{pk}/assign/ | 401 403 403 400 400 400 403
POST /api/v1/cases/{pk}/claims/ | 401 403 403 400 400 400 403
POST /api/v1/cases/{pk}/comments/ | 401 403 403 400 400 400 403
POST /api/v1/cases/{pk}/evidence/ | 401 403 403 400 400 400 403
POST /api/v1/cases/{pk}/evidence/{evidence_id}/verify/ | 401 403 403 400 400 400 403
POST /api/v1/cases/{pk}/publish/ | 401 403 403 403 400 400 403
POST /api/v1/cases/{pk}/rate/ | 401 403 403 400 400 400 403
POST /api/v1/cases/{pk}/transition/ | 401 403 403 400 400 400 403
POST /api/v1/deliveries/{pk}/redeliver/ | 401 404 202 403 403 403 403
POST /api/v1/references/ | 401 403 403 403 400 400 403
POST /api/v1/submissions/ | 401 400 400 403 403 400 403
POST /api/v1/submissions/{pk}/retry/ | 401 404 409 409 403 409 404
POST /api/v1/webhooks/inbound/{client}/ | 401 401 401 401 401 401 401
POST /cases/{pk}/do/{action}/ | 302 302 302 302 302 302 403
POST /review/decisions/undo/ | 302 302 302 400 400 400 403
POST /review/filters/ | 302 302 302 302 302 302 403
POST /review/filters/{filter_id}/delete/ | 302 302 302 302 302 302 403
POST /review/items/{pk}/assign/ | 302 302 302 302 302 302 403
POST /review/items/{pk}/claim/ | 302 302 302 302 302 302 403
POST /review/items/{pk}/decide/ | 302 302 302 302 302 302 403
POST /review/items/{pk}/near-misses/{reference_id}/judge/ | 302 302 302 400 403 400 403
POST /review/items/{pk}/release/ | 302 302 302 302 302 302 403
POST /review/next/ | 302 302 302 302 302 302 403
POST /review/settings/ | 302 302 302 302 302 302 403
"""
EXPECTED: dict[str, dict[str, int]] = {
    key.strip(): dict(zip(P, map(int, statuses.split()), strict=True))
    for key, statuses in (line.split(" | ") for line in TABLE.strip().splitlines())
}


def _template(pattern: str) -> str:
    pattern = pattern.replace("^", "").replace("$", "")
    pattern = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)


def url_templates() -> list[tuple[str, object]]:
    """(template, callback) of every pattern; the admin site counts as one ('/admin/')."""
    found: list[tuple[str, object]] = []

    def walk(patterns: list, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if str(entry.pattern) == "admin/" and not prefix:
                    found.append(("/admin/", None))
                    continue
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                found.append((_template(prefix + str(entry.pattern)), entry.callback))

    walk(get_resolver().url_patterns, "")
    return found


def methods_of(template: str, callback: object) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route (DRF adds "head" to this dict on the first request)
        return sorted(m.upper() for m in actions if m not in ("head", "options"))
    if template in POST_ONLY:
        return ["POST"]
    return ["GET"]


POST_ONLY = {
    "/review/next/",
    "/review/items/{pk}/claim/",
    "/review/items/{pk}/release/",
    "/review/items/{pk}/decide/",
    "/review/items/{pk}/near-misses/{reference_id}/judge/",
    "/cases/{pk}/do/{action}/",
    "/api/v1/webhooks/inbound/{client}/",
    "/accounts/logout/",
    "/review/settings/",
    "/review/decisions/undo/",
    "/review/filters/",
    "/review/filters/{filter_id}/delete/",
    "/review/items/{pk}/assign/",
}


def _fill(template: str, world) -> str:
    params = world.params.get(template)
    if params is None:
        prefix = next((p for p in world.defaults if template.startswith(p)), None)
        params = {"pk": world.defaults[prefix]} if prefix and "{pk}" in template else {}
    return template.format(**params)


def _request(client, method: str, url: str) -> int:
    cookies = copy.deepcopy(client.cookies)  # logout would end the persona's session
    with transaction.atomic():
        response = getattr(client, method.lower())(url)
        transaction.set_rollback(True)
    client.cookies = cookies
    return response.status_code


@pytest.mark.slow
def test_every_url_for_every_persona_answers_as_classified(world) -> None:
    actual: dict[str, dict[str, int]] = {}
    for template, callback in url_templates():
        for method in methods_of(template, callback):
            url = _fill(template, world)
            assert "{" not in url, f"no test object for {template}"
            actual[f"{method} {template}"] = {
                persona: _request(world.clients[persona], method, url) for persona in P
            }
    if os.environ.get("AUTHZ_MATRIX_PRINT"):
        for key, statuses in sorted(actual.items()):
            print(f"{key} | {' '.join(str(statuses[p]) for p in P)}")
    unclassified = sorted(set(actual) - set(EXPECTED))
    assert not unclassified, f"classify these URLs in EXPECTED: {unclassified}"
    gone = sorted(set(EXPECTED) - set(actual))
    assert not gone, f"remove these URLs from EXPECTED: {gone}"
    wrong = {
        key: {
            p: (actual[key][p], EXPECTED[key][p]) for p in P if actual[key][p] != EXPECTED[key][p]
        }
        for key in EXPECTED
    }
    wrong = {key: cells for key, cells in wrong.items() if cells}
    assert not wrong, f"(actual, expected) per persona: {wrong}"


def _ids(client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_list_endpoints_never_return_another_clients_rows(world) -> None:
    from moderation.models import Submission

    own, other = world.clients["own_client"], world.clients["outsider_client"]
    mine, theirs = world.own_submission_id, world.other_submission_id
    assert _ids(own, "/api/v1/submissions/") == {mine}
    assert _ids(other, "/api/v1/submissions/") == {theirs}
    external_id = Submission.objects.get(pk=mine).external_id
    assert _ids(other, f"/api/v1/submissions/?external_id={external_id}") == set()
    assert _ids(own, f"/api/v1/submissions/?external_id={external_id}") == {mine}
    assert _ids(own, "/api/v1/deliveries/") == {world.own_delivery_id}
    assert _ids(other, "/api/v1/deliveries/") == set()
    # Staff see every client's submissions (the review queue needs them).
    assert _ids(world.clients["moderator"], "/api/v1/submissions/") >= {mine, theirs}
