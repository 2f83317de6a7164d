"""The Celery application; start a worker from the repository root: `celery -A config worker`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from celery import Celery

from config.bootstrap import DEFAULT_SETTINGS_MODULE, configure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS_MODULE)
if Path(sys.argv[0]).name == "celery":
    # Under the celery CLI nothing else loads settings before the worker boots; doing it here
    # turns a misconfiguration into one line instead of a traceback from deep inside Celery.
    configure()

app = Celery("provenant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
