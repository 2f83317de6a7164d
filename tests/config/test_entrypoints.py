"""gunicorn serves the WSGI app from the repository root; the web entry points default to the
production profile (a server started without DJANGO_SETTINGS_MODULE never runs with DEBUG on)."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config.bootstrap import SERVER_CONFIG_ERROR_EXIT

REPO_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
SECURE_KEY = "s3cure-" + "x1y2z3w4v5u6t7s8r9q0p1o2n3m4l5k6j7i8h9g0f1e2d3c4b5a6"
PRODUCTION = {"SECRET_KEY": SECURE_KEY, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0"}
PROBE = (
    "import {module}; from django.conf import settings; "
    "print(settings.SETTINGS_MODULE, settings.DEBUG)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def import_entry_point(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def serve(env: dict[str, str], venv_bin) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [venv_bin("gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                assert reply.status == 200
                assert reply.read() == b'{"status": "ok"}'
                return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.terminate()
                assert process.stderr is not None
                raise AssertionError(
                    f"gunicorn did not answer: {process.stderr.read().decode()}"
                ) from None
            time.sleep(0.3)


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_web_entry_point_without_settings_refuses_with_the_production_line(
    project_env, module: str
) -> None:
    env = project_env()
    env.pop("SECRET_KEY", None)
    result = import_entry_point(module, env)
    assert result.returncode == SERVER_CONFIG_ERROR_EXIT, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if "faiss" not in line]
    assert lines == ["provenant: configuration error: SECRET_KEY: is required in production"]


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_web_entry_point_defaults_to_production_with_debug_off(
    project_env, tmp_path, module: str
) -> None:
    result = import_entry_point(module, project_env(DATA_DIR=str(tmp_path), **PRODUCTION))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["config.settings.production", "False"]


def test_manage_py_keeps_the_development_default(run_manage) -> None:
    probe = "from django.conf import settings as s; print(s.SETTINGS_MODULE, s.DEBUG)"
    result = run_manage("shell", "-v", "0", "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["config.settings.development", "True"]


def test_gunicorn_serves_production_without_tracebacks(project_env, venv_bin, tmp_path) -> None:
    process, port = serve(project_env(DATA_DIR=str(tmp_path), **PRODUCTION), venv_bin)
    try:
        # An unknown page: DEBUG's technical 404 would list the URL patterns.
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=10)
        body = missing.value.read().decode()
        assert missing.value.code == 404
        assert "URLconf" not in body and "Traceback" not in body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as reply:
            assert json.loads(reply.read()) == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gunicorn_without_settings_does_not_serve(project_env, venv_bin, tmp_path) -> None:
    env = project_env(DATA_DIR=str(tmp_path))
    env.pop("SECRET_KEY", None)
    port = free_port()
    process = subprocess.Popen(
        [venv_bin("gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        stderr = process.communicate(timeout=START_TIMEOUT_SECONDS)[1].decode()
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait(timeout=30)
        raise AssertionError("gunicorn kept running without SECRET_KEY") from None
    assert process.returncode == SERVER_CONFIG_ERROR_EXIT  # the master stopped, not respawning
    assert "provenant: configuration error: SECRET_KEY: is required in production" in stderr
