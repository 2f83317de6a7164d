"""docker-compose.yml cannot run here (no engine), so its structure is checked instead."""

from pathlib import Path

import pytest
import yaml

REPO_DIR = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat", "worker-gpu")
REQUIRED_APP_ENV = {
    "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "DATA_DIR", "SECRET_KEY",
    "ALLOWED_HOSTS",
}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())


def test_services_and_images(compose: dict) -> None:
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "worker-gpu"} <= set(services)
    for name in ("postgres", "redis"):
        image = services[name]["image"]
        assert ":" in image and not image.endswith(":latest"), image
    for name in APP_SERVICES:
        assert services[name]["build"]["context"] == "."
    assert (REPO_DIR / "Dockerfile").is_file()


def test_every_service_has_a_healthcheck_and_restarts(compose: dict) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        assert check.get("test"), name
        assert check.get("interval") and check.get("retries"), name


def test_app_services_are_configured_for_production(compose: dict) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        environment = service["environment"]
        assert set(environment) >= REQUIRED_APP_ENV, name
        assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:")
        assert ":?" in environment["SECRET_KEY"], "SECRET_KEY must be required, never defaulted"
        for dependency in ("postgres", "redis"):
            assert service["depends_on"][dependency]["condition"] == "service_healthy"


def test_commands_use_the_documented_entry_points(compose: dict) -> None:
    services = compose["services"]
    assert "gunicorn config.wsgi" in services["web"]["command"]
    assert "manage.py migrate" in services["web"]["command"]
    assert services["worker"]["command"].startswith("celery -A config worker")
    # One beat per deployment, its schedule on the data volume, its pid for the healthcheck.
    beat = services["beat"]["command"]
    assert beat.startswith("celery -A config beat") and "-s /data/" in beat
    assert "--pidfile /tmp/celerybeat.pid" in beat
    assert "/tmp/celerybeat.pid" in services["beat"]["healthcheck"]["test"][1]
    assert "deploy" not in services["beat"], "never scale beat"
    assert "8000:8000" in services["web"]["ports"]


def test_named_volumes_are_declared_and_mounted(compose: dict) -> None:
    declared = set(compose["volumes"])
    mounted = {
        volume.split(":", 1)[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
    }
    assert mounted == declared == {"data", "pgdata", "redisdata"}
    assert "data:/data" in compose["services"]["web"]["volumes"]


def test_gpu_profile_reserves_a_gpu_and_installs_cuda_packages(compose: dict) -> None:
    gpu = compose["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert gpu["environment"]["CLIP_DEVICE"] == "cuda"
    assert "faiss-gpu" in gpu["build"]["args"]["EXTRA_PACKAGES"]
    assert "cu" in gpu["build"]["args"]["TORCH_INDEX_URL"].rsplit("/", 1)[-1]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "gpu" not in compose["services"]["worker"].get("profiles", [])


def test_worker_memory_is_bounded_above_its_children(compose: dict) -> None:
    """Each worker container's mem_limit holds its prefork children at WORKER_MAX_MEMORY_MB
    (the settings default) plus the parent, so children are recycled before the cgroup kills."""
    from django.conf import settings

    for name in ("worker", "worker-gpu"):
        service = compose["services"][name]
        concurrency = int(service["command"].split("--concurrency=")[1].split()[0])
        limit_gb = int(service["mem_limit"].removesuffix("g"))
        assert limit_gb * 1024 > (concurrency + 1) * settings.WORKER_MAX_MEMORY_MB, name
