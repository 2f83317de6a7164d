"""Shared fixtures: the real PostgreSQL check, personas, API clients and generated images."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest
from PIL import Image

REPO_DIR = Path(__file__).resolve().parents[1]
POSTGRES_START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail loudly when PostgreSQL is down: the suite never falls back to SQLite."""
    if not session.config.pluginmanager.hasplugin("django"):
        return  # Django-free runs of core packages (pytest -p no:django tests/*/core)
    from django.conf import settings

    database = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=database.get("HOST") or None,
            port=database.get("PORT") or None,
            user=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            dbname="postgres",
            connect_timeout=5,
        ).close()
    except psycopg.OperationalError as error:
        first_line = str(error).strip().splitlines()[0]
        pytest.exit(
            f"PostgreSQL is unreachable ({first_line}); start it: {POSTGRES_START_HINT}",
            returncode=3,
        )


def _project_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "DEBUG"):
        env.pop(key, None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_DIR), str(REPO_DIR / "platform")])
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def project_env() -> Callable[..., dict[str, str]]:
    """Environment for a subprocess running the project (manage.py, celery, gunicorn)."""
    return _project_env


@pytest.fixture(scope="session")
def venv_bin() -> Callable[[str], str]:
    """Path of a console script installed next to the running interpreter."""
    return lambda name: str(Path(sys.executable).parent / name)


@pytest.fixture
def run_manage(project_env, tmp_path):
    """Run manage.py in a subprocess with a private DATA_DIR; returns CompletedProcess."""

    def run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        env.setdefault("DATA_DIR", str(tmp_path / "data"))
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_DIR,
            env=project_env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture(autouse=True)
def private_data_dirs(request, tmp_path):
    """Each test gets its own media and index folders, so files never leak between tests."""
    if not request.config.pluginmanager.hasplugin("django"):
        return tmp_path
    settings = request.getfixturevalue("settings")
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INDEX_DIR = tmp_path / "index"
    return tmp_path


@pytest.fixture
def make_image_bytes() -> Callable[..., bytes]:
    """Encode a deterministic, textured RGB image in the given format."""

    def make(width: int = 64, height: int = 48, image_format: str = "PNG", seed: int = 0) -> bytes:
        rng = np.random.default_rng(seed)
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=image_format)
        return buffer.getvalue()

    return make


@pytest.fixture
def personas(db):
    """One user per role plus an outsider with no role."""
    from django.contrib.auth.models import Group

    from accounts.models import User
    from accounts.roles import ADMIN, FACT_CHECKER, MODERATOR, roles_sync

    roles_sync()
    users = {}
    for name, role in [
        ("moderator", MODERATOR),
        ("fact_checker", FACT_CHECKER),
        ("admin", ADMIN),
        ("outsider", None),
    ]:
        user = User.objects.create_user(username=name, password="correct horse battery")
        if role:
            user.groups.add(Group.objects.get(name=role))
        users[name] = user
    return users


@pytest.fixture
def case(personas):
    """A started case with one claim, opened by the fact-checker."""
    from factcheck.cases.services import ClaimInput, case_create

    return case_create(
        title="Shark on the highway",
        actor=personas["fact_checker"],
        claims=[
            ClaimInput(
                text="A shark swam on a flooded highway in Houston",
                language="en",
                claimant="@stormwatch",
                appearance_url="https://sns.example/p/1",
            )
        ],
    )


@pytest.fixture
def api_client_credentials(db):
    from accounts.services import api_client_create

    return api_client_create(name="Example SNS")


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """tests/videos.py: an original video and an edited repost of it (bytes)."""
    from tests.videos import videos_write

    return videos_write(tmp_path_factory.mktemp("videos"))
