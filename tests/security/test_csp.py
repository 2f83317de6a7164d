"""Content-Security-Policy on every HTML page, a stricter one kept on served media, and a CSRF
cookie no script can read. The browser proof (no violation in Chromium) is in
tests/frontend/test_csp_browser.py."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from config.middleware import (
    CONTENT_SECURITY_POLICY,
    CSP_HEADER,
    REDOC_CONTENT_SECURITY_POLICY,
    policy_with,
)
from factcheck.cases.services import case_publish, case_rate, case_transition
from tests.moderation.review_factory import review_item_create

pytestmark = pytest.mark.django_db

REQUIRED_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "img-src": "'self' data: blob:",
}
# A <script> without src that is not a data block (JSON-LD, json_script): code CSP would block.
INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I
)


def directives(policy: str) -> dict[str, str]:
    parsed = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        parsed[name] = value
    return parsed


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def published_case(personas):
    item = review_item_create(seed=3)
    client = signed_in(personas["moderator"])
    client.post(f"/review/items/{item.pk}/claim/")
    client.post(f"/review/items/{item.pk}/decide/", {"action": "escalate", "rationale": "check"})
    from factcheck.cases.models import Case

    case = Case.objects.get(case_submissions__submission=item.submission)
    actor = personas["fact_checker"]
    case_transition(case=case, actor=actor, to_status="investigating")
    case_rate(case=case, actor=actor, rating="false", explanation="Made up.")
    return item, case_publish(case=case, actor=actor)


def test_policy_has_every_required_directive_and_nothing_inline() -> None:
    parsed = directives(CONTENT_SECURITY_POLICY)
    for name, value in REQUIRED_DIRECTIVES.items():
        assert parsed[name] == value, name
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_every_html_page_carries_the_policy_and_no_inline_script(personas, published_case) -> None:
    item, case = published_case
    personas["admin"].is_staff = True  # the admin site also needs staff status
    personas["admin"].save(update_fields=["is_staff"])
    admin = signed_in(personas["admin"])
    moderator = signed_in(personas["moderator"])
    checker = signed_in(personas["fact_checker"])
    pages = [
        (Client(), "/accounts/login/", 200),
        (Client(), f"/factchecks/{case.slug}/", 200),
        (Client(), "/api/docs/", 200),
        (Client(), "/no-such-page/", 404),
        (moderator, "/", 200),
        (moderator, "/review/", 200),
        (moderator, f"/review/items/{item.pk}/", 200),
        (checker, "/cases/", 200),
        (checker, "/cases/new/", 200),
        (checker, f"/cases/{case.pk}/", 200),
        (signed_in(personas["outsider"]), "/cases/", 403),
        (admin, "/review/audit/", 200),
        (admin, "/admin/", 200),
        (admin, "/admin/moderation/submission/", 200),
        (admin, f"/admin/moderation/submission/{item.submission_id}/change/", 200),
        (admin, "/admin/factcheck/reference/", 200),
        (admin, "/admin/accounts/user/add/", 200),
    ]
    for client, path, status in pages:
        response = client.get(path)
        assert response.status_code == status, path
        assert response["Content-Type"].startswith("text/html"), path
        assert response[CSP_HEADER] == CONTENT_SECURITY_POLICY, path
        body = response.content.decode()
        assert not INLINE_SCRIPT.search(body), (path, INLINE_SCRIPT.search(body))
        assert ' style="' not in body, path


def test_redoc_is_served_offline_under_its_own_named_policy() -> None:
    response = Client().get("/api/redoc/")
    assert response.status_code == 200
    assert response[CSP_HEADER] == REDOC_CONTENT_SECURITY_POLICY
    site, redoc = directives(CONTENT_SECURITY_POLICY), directives(response[CSP_HEADER])
    # Only styles (styled-components) and a blob: worker (its search) are widened: scripts,
    # images, connections and everything else stay as on every page.
    assert redoc.pop("style-src") == "'self' 'unsafe-inline'"
    assert redoc.pop("worker-src") == "'self' blob:"
    site.pop("style-src")
    assert redoc == site
    assert "unsafe" not in redoc["script-src"]
    body = response.content.decode()
    assert not INLINE_SCRIPT.search(body)
    assert ' style="' not in body and "<style" not in body
    # Nothing from another host: no Google Fonts, the bundle from our static files.
    assert not re.search(r'(?:src|href)="(?:https?:)?//', body)
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in body
    assert 'data-schema-url="/api/schema/"' in body


def test_the_site_policy_is_not_widened_by_redocs() -> None:
    assert Client().get("/api/docs/")[CSP_HEADER] == CONTENT_SECURITY_POLICY
    assert policy_with() == CONTENT_SECURITY_POLICY


def test_swagger_init_script_is_a_same_origin_file_with_the_csrf_token() -> None:
    page = Client().get("/api/docs/")
    found = re.search(r'<script src="([^"]*script[^"]*)"', page.content.decode())
    assert found is not None
    script_url = found.group(1)
    script = Client().get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert CSP_HEADER not in script  # a script, not a page
    assert "SwaggerUIBundle" in script.content.decode()
    assert "X-CSRFTOKEN" in script.content.decode()  # taken from the page, not the cookie


def test_served_media_keeps_its_stricter_policy(personas) -> None:
    item = review_item_create(seed=5)
    response = signed_in(personas["moderator"]).get(f"/review/items/{item.pk}/media")
    assert response.status_code == 200
    assert "sandbox" in response[CSP_HEADER]
    assert response[CSP_HEADER] != CONTENT_SECURITY_POLICY


def test_json_responses_get_no_page_policy(personas) -> None:
    response = signed_in(personas["fact_checker"]).get("/api/v1/cases/")
    assert response.status_code == 200
    assert CSP_HEADER not in response


def test_debug_error_pages_are_left_without_a_policy(settings) -> None:
    settings.DEBUG = True
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert CSP_HEADER not in response  # Django's debug page is inline-scripted
    assert Client().get("/accounts/login/")[CSP_HEADER] == CONTENT_SECURITY_POLICY


def test_csrf_cookie_is_http_only() -> None:
    response = Client().get("/accounts/login/")
    cookie = response.cookies["csrftoken"]
    assert cookie["httponly"] is True
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
