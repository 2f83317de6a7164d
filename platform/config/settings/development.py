"""Development profile: the embedded defaults (SQLite, in-process tasks, local files)."""

from config.env import env_bool, env_str
from config.settings.base import *  # noqa: F403

DEBUG = env_bool("DEBUG", default=True)
# Only this profile has a fallback key; production refuses to start without a real one.
SECRET_KEY = env_str("SECRET_KEY") or "django-insecure-development-only-key-do-not-deploy"
