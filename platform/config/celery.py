"""The Celery application; start a worker from the repository root: `celery -A config worker`."""

from __future__ import annotations

import sys
from pathlib import Path

from celery import Celery
from celery.fixups.django import DjangoFixup

from config.bootstrap import configure


def _run_by_celery_command() -> bool:
    """`celery ...` or `python -m celery ...`."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.name == "celery" or (
        program.name == "__main__.py" and program.parent.name == "celery"
    )


if _run_by_celery_command():
    # Under the celery CLI nothing else loads settings before the worker boots; doing it here
    # turns a misconfiguration into one line instead of a traceback from deep inside Celery.
    # Only here: every import of `config` runs this module first, and a web server importing
    # config.wsgi must still get that entry point's production default (config.bootstrap).
    configure()


def _django_fixup(app: Celery) -> DjangoFixup:
    """Celery's Django fixup (DjangoTask with delay_on_commit, worker database hygiene), always.

    Celery skips it when DJANGO_SETTINGS_MODULE is unset as the app is made, which it is here for
    every entry point but the celery command: each chooses its settings after this module runs.
    The fixup reads the settings lazily, so installing it now is safe."""
    fixup = DjangoFixup(app)
    fixup.install()
    return fixup


# celery-types declares fixups as names only; Celery also takes a callable (symbol_by_name).
app = Celery("provenant", fixups=[_django_fixup])  # type: ignore[list-item]
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
