"""Shared start-up for manage.py, WSGI and Celery: one clear line on bad configuration."""

from __future__ import annotations

import os
import sys

DEFAULT_SETTINGS_MODULE = "config.settings.development"


def configure() -> None:
    """Select the settings module and load it, exiting with one line if it is misconfigured."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS_MODULE)
    from django.conf import settings

    from config.env import ConfigError

    try:
        settings.INSTALLED_APPS  # noqa: B018 - touching a setting loads the module
    except ConfigError as error:
        sys.stderr.write(f"provenant: configuration error: {error}\n")
        raise SystemExit(2) from None
