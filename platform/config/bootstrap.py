"""Shared start-up for manage.py, WSGI/ASGI and Celery: one clear line on bad configuration."""

from __future__ import annotations

import os
import sys

# manage.py and Celery: `make run` serves with runserver on the embedded defaults.
DEFAULT_SETTINGS_MODULE = "config.settings.development"
# The web servers' entry points (gunicorn config.wsgi, an ASGI server on config.asgi): a server
# started without DJANGO_SETTINGS_MODULE must not run with DEBUG on, showing tracebacks to
# clients; the production profile refuses to start without its settings instead.
SERVER_SETTINGS_MODULE = "config.settings.production"
CONFIG_ERROR_EXIT = 2
# gunicorn's APP_LOAD_ERROR: a worker exiting with it stops the whole server, where any other
# code would have the master boot a new worker, and fail again, several times a second.
SERVER_CONFIG_ERROR_EXIT = 4


def configure(
    default_settings: str = DEFAULT_SETTINGS_MODULE, *, exit_code: int = CONFIG_ERROR_EXIT
) -> None:
    """Select the settings module and load it, exiting with one line if it is misconfigured."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings)
    from django.conf import settings

    from config.env import ConfigError

    try:
        settings.INSTALLED_APPS  # noqa: B018 - touching a setting loads the module
    except ConfigError as error:
        sys.stderr.write(f"provenant: configuration error: {error}\n")
        raise SystemExit(exit_code) from None
