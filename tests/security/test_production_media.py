"""Production settings: MEDIA_HOST serves uploaded media from a separate origin."""

import pytest

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "s3cure-" + "x1y2z3w4v5u6t7s8r9q0p1o2n3m4l5k6j7i8h9g0f1e2d3c4b5a6",
    "ALLOWED_HOSTS": "provenant.example.org",
}
PROBE = "from django.conf import settings as s; print(s.MEDIA_URL)"


def test_media_host_sets_an_absolute_media_url_on_that_origin(run_manage) -> None:
    result = run_manage(
        "shell", "-v", "0", "-c", PROBE, MEDIA_HOST="Media.Provenant.example.org", **PRODUCTION
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://media.provenant.example.org/media/"


def test_without_media_host_media_stays_on_the_app(run_manage) -> None:
    result = run_manage("shell", "-v", "0", "-c", PROBE, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/media/"


@pytest.mark.parametrize(
    "value", ["provenant.example.org", "https://media.example.org", "media.example.org/x"]
)
def test_bad_media_host_stops_with_one_line(run_manage, value: str) -> None:
    result = run_manage("check", MEDIA_HOST=value, **PRODUCTION)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("provenant: configuration error: MEDIA_HOST:")
