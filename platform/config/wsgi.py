"""WSGI entry point: `gunicorn config.wsgi` from the repository root.

Without DJANGO_SETTINGS_MODULE it runs the production profile (config.bootstrap), which stops
with one line naming the first missing variable (SECRET_KEY, ALLOWED_HOSTS ...).
"""

from django.core.wsgi import get_wsgi_application

from config.bootstrap import SERVER_CONFIG_ERROR_EXIT, SERVER_SETTINGS_MODULE, configure

configure(SERVER_SETTINGS_MODULE, exit_code=SERVER_CONFIG_ERROR_EXIT)
application = get_wsgi_application()
