"""Test profile: the real PostgreSQL, never a silent SQLite fallback."""

import os
import tempfile
from pathlib import Path

from config.env import ConfigError, database_config, env_str
from config.settings.base import *  # noqa: F403

TEST_DATABASE_URL_DEFAULT = "postgres://postgres@127.0.0.1:5432/provenant"

os.environ.setdefault("DATABASE_URL", TEST_DATABASE_URL_DEFAULT)
DATABASES = {"default": database_config("DATABASE_URL", default_sqlite=Path("unused"))}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ConfigError("DATABASE_URL", "the test suite runs on PostgreSQL (postgres://...)")
DATABASES["default"]["CONN_MAX_AGE"] = 0
DEBUG = False
SECRET_KEY = env_str("SECRET_KEY") or "test-only-secret-key-not-for-deployment-0123456789abcdef"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATA_DIR = Path(tempfile.mkdtemp(prefix="provenant-test-"))
MEDIA_ROOT = DATA_DIR / "media"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir()
INDEX_DIR = DATA_DIR / "index"
MODELS_CACHE_DIR = DATA_DIR / "models"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests that need a broker start a real worker and set it themselves.
CELERY_BROKER_URL = None
CELERY_TASK_ALWAYS_EAGER = True
