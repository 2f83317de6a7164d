"""/healthz says the process is up; /readyz checks what the process depends on."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_dependencies(settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_every_dependency() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": True, "detail": "postgresql"}
    assert checks["broker"]["ok"] and checks["index"]["ok"]


def test_readyz_fails_when_the_broker_is_unreachable(settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_readyz_fails_on_an_unreadable_index_manifest(settings) -> None:
    settings.INDEX_DIR.mkdir(parents=True)
    (settings.INDEX_DIR / "pdq.json").write_text("{truncated")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["index"]["ok"] is False


def test_readyz_fails_when_the_database_is_down(monkeypatch) -> None:
    from django.db import OperationalError, connection

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "detail": "OperationalError"}
