"""Signals of accounts (django.dispatch): how packages above it take part in its checks.

`callback_url_checking` is sent with `url` before a client's callback URL is stored
(`services.callback_url_checked`: `api_client_create`, the admin). `integrations` connects the
SSRF rules of its requests in IntegrationsConfig.ready(), as accounts may not import it. A
receiver returns a list of warnings, or raises `services.CallbackUrlRefused` to refuse the URL.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `url` (str); sender: the function checking it. Receivers return list[str] warnings.
callback_url_checking = Signal()
