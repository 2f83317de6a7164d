"""Configuration from the environment: defaults, the production profile and bad values."""

import pytest

SECURE_KEY = "s3cure-" + "x1y2z3w4v5u6t7s8r9q0p1o2n3m4l5k6j7i8h9g0f1e2d3c4b5a6"
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": SECURE_KEY,
    "ALLOWED_HOSTS": "provenant.example.org",
}


def test_production_profile_passes_the_deploy_check(run_manage) -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "django-insecure-" + "a1b2c3d4e5" * 5}, "SECRET_KEY"),
        ({"DEBUG": "1"}, "DEBUG"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"DATABASE_URL": "postgres//no-scheme"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/"}, "DATABASE_URL"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"CELERY_TASK_TIME_LIMIT": "ten"}, "CELERY_TASK_TIME_LIMIT"),
    ],
)
def test_bad_configuration_stops_with_one_line_naming_the_variable(
    run_manage, overrides: dict[str, str], variable: str
) -> None:
    result = run_manage("check", **{**PRODUCTION, **overrides})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"provenant: configuration error: {variable}:")


def test_development_defaults_use_sqlite_in_data_dir(run_manage, tmp_path) -> None:
    probe = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME']); "
        "print(s.MEDIA_ROOT); print(s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG)"
    )
    result = run_manage("shell", "-v", "0", "-c", probe, DATA_DIR=str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    database, media, celery = result.stdout.strip().splitlines()
    assert database == f"django.db.backends.sqlite3 {tmp_path / 'd' / 'db.sqlite3'}"
    assert media == str(tmp_path / "d" / "media")
    assert celery == "True True"


def test_database_url_selects_postgresql_through_psycopg3(run_manage) -> None:
    probe = (
        "from django.db import connection; connection.ensure_connection(); "
        "import psycopg; print(connection.vendor, type(connection.connection).__module__)"
    )
    result = run_manage(
        "shell", "-v", "0", "-c", probe, DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["postgresql", "psycopg"]
