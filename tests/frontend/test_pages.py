"""Login, the overview page and the API documentation."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_anonymous_users_are_sent_to_login() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/")


def test_login_page_and_sign_in(personas) -> None:
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post(
        "/accounts/login/", {"username": "moderator", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    overview = client.get("/")
    assert overview.status_code == 200
    assert b"moderator" in overview.content
    assert b'href="/admin/"' not in overview.content


def test_wrong_password_shows_an_error(personas) -> None:
    response = Client().post("/accounts/login/", {"username": "moderator", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_admin_navigation_only_for_admins(personas) -> None:
    client = Client()
    client.force_login(personas["admin"])
    assert b'href="/admin/"' in client.get("/").content


def test_api_docs_and_schema_are_served_offline() -> None:
    client = Client()
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in docs.content
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/me/" in document["paths"]
    assert "apiToken" in document["components"]["securitySchemes"]
