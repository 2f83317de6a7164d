"""Production profile: refuses to start with an insecure SECRET_KEY or DEBUG on."""

import re

from config.env import ConfigError, env_bool, env_int, env_list, env_str
from config.settings.base import *  # noqa: F403

MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5
INSECURE_SECRET_KEY_PREFIX = "django-insecure"

if env_bool("DEBUG", default=False):
    raise ConfigError("DEBUG", "must be off in production (unset it or set DEBUG=0)")
DEBUG = False

SECRET_KEY = env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    raise ConfigError("SECRET_KEY", "is required in production")
if (
    len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH
    or len(set(SECRET_KEY)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS
    or SECRET_KEY.startswith(INSECURE_SECRET_KEY_PREFIX)
):
    raise ConfigError(
        "SECRET_KEY",
        f"is insecure: use at least {MIN_SECRET_KEY_LENGTH} random characters "
        '(python -c "import secrets; print(secrets.token_urlsafe(64))")',
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ConfigError("ALLOWED_HOSTS", "is required in production (comma-separated host names)")

# TLS terminates at the reverse proxy, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Uploaded media from a separate origin (README, "Configuration"): should a browser ever render
# an uploaded file as a page, it runs on that origin, without the app's cookies or API. The
# server behind it must send the same headers as mediastore.serving (nosniff, the sandboxing
# CSP, Content-Disposition: inline with a fixed name). The app's own views keep serving media
# to signed-in people through access checks.
MEDIA_HOST_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?$")
MEDIA_HOST = (env_str("MEDIA_HOST") or "").lower()
if MEDIA_HOST:
    if not MEDIA_HOST_PATTERN.match(MEDIA_HOST):
        raise ConfigError("MEDIA_HOST", "must be a host name, e.g. media.provenant.example.org")
    if MEDIA_HOST.split(":")[0] in ALLOWED_HOSTS:
        raise ConfigError("MEDIA_HOST", "must differ from every ALLOWED_HOSTS entry")
    MEDIA_URL = f"https://{MEDIA_HOST}/media/"
