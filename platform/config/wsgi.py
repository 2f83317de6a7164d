"""WSGI entry point: `gunicorn config.wsgi` from the repository root."""

from django.core.wsgi import get_wsgi_application

from config.bootstrap import configure

configure()
application = get_wsgi_application()
