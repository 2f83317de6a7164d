"""ASGI entry point (e.g. `uvicorn config.asgi:application`), with the WSGI one's defaults:
the production profile unless DJANGO_SETTINGS_MODULE says otherwise."""

from django.core.asgi import get_asgi_application

from config.bootstrap import SERVER_CONFIG_ERROR_EXIT, SERVER_SETTINGS_MODULE, configure

configure(SERVER_SETTINGS_MODULE, exit_code=SERVER_CONFIG_ERROR_EXIT)
application = get_asgi_application()
