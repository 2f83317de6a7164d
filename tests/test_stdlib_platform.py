"""`platform/` is a source folder: `import platform` must stay the standard library everywhere."""

import subprocess
import sys
import sysconfig
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
STDLIB_DIR = Path(sysconfig.get_paths()["stdlib"]).resolve()
PROBE = "import platform; print(platform.__file__); print(platform.python_version())"


def assert_stdlib(output: str) -> None:
    module_file, version = output.strip().splitlines()[-2:]
    assert Path(module_file).resolve().parent == STDLIB_DIR
    assert version == platform_version()


def platform_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def test_no_package_named_platform_in_the_repository() -> None:
    assert not (REPO_DIR / "platform" / "__init__.py").exists()


def test_pytest_process_sees_the_standard_library() -> None:
    import platform

    assert Path(platform.__file__).resolve().parent == STDLIB_DIR
    assert platform.python_version() == platform_version()


def test_manage_py_sees_the_standard_library(run_manage) -> None:
    result = run_manage("shell", "-c", PROBE)
    assert result.returncode == 0, result.stderr
    assert_stdlib(result.stdout)


def test_wsgi_application_sees_the_standard_library(project_env, tmp_path) -> None:
    probe = "from config.wsgi import application; assert callable(application); " + PROBE
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_DIR,
        # config.wsgi alone picks production, which needs a real key (see test_entrypoints.py).
        env=project_env(
            DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings.development"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert_stdlib(result.stdout)
