"""Platform-wide pages of issue 18's "Also" list: the favicon, the audit log in words, 403s
that name the role needed, the public ClaimReview, the API schema and docs, the admin."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_favicon_answers_and_every_page_links_it(personas):
    response = Client().get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("frontend/favicon.ico")
    assert "max-age=86400" in response["Cache-Control"]
    login = Client().get("/accounts/login/").content.decode()
    assert 'rel="icon" href="/static/frontend/favicon.ico"' in login
    assert Client().post("/favicon.ico").status_code == 405
