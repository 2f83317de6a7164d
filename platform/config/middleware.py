"""Request guards that apply to every view."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class RejectNulBytesMiddleware:
    """Answer 400 when the path or query string holds a NUL character.

    PostgreSQL text cannot hold NUL, so a filter like ?external_id=%00 would otherwise reach the
    database and fail with a 500. Bodies are checked by the forms and serializers
    (ProhibitNullCharactersValidator); query parameters are read by views directly.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return JsonResponse({"detail": "the URL contains a NUL character (%00)"}, status=400)
        return self.get_response(request)


# Every HTML page: scripts and styles only from our own files (no inline script, no inline style
# attribute), no plugins, no <base> rewriting, no framing, forms post only to us. Images may also
# be data:/blob: URLs (Swagger UI's icons are data: URLs in its stylesheet). A JSON-LD or
# json_script <script type="application/...json"> is a data block, which CSP does not block.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
CSP_HEADER = "Content-Security-Policy"


def policy_with(**directives: str) -> str:
    """CONTENT_SECURITY_POLICY with some directives replaced or added (`style_src="..."` for
    style-src): a page that needs more than the site's policy names exactly what it widens."""
    parsed = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    parsed.update({name.replace("_", "-"): value for name, value in directives.items()})
    return "; ".join(f"{name} {value}" for name, value in parsed.items())


# The Redoc API reference (/api/redoc/, frontend.api_docs) only. Its bundle styles the page with
# styled-components, which inserts <style> elements and style attributes at run time and cannot
# be given a nonce from outside the bundle: style-src needs 'unsafe-inline' there. Its search runs
# in a Web Worker the bundle builds from its own code as a blob: URL (workers have no DOM).
# Scripts stay 'self' only, and nothing is loaded from another host.
REDOC_CONTENT_SECURITY_POLICY = policy_with(
    style_src="'self' 'unsafe-inline'", worker_src="'self' blob:"
)


def content_security_policy(
    policy: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A view's own policy in place of CONTENT_SECURITY_POLICY (the middleware keeps a policy
    a response already has). Only for a page that cannot work under the site's policy."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> HttpResponse:
            response = view(*args, **kwargs)
            response[CSP_HEADER] = policy
            return response

        return wrapped

    return decorate


class ContentSecurityPolicyMiddleware:
    """Send CONTENT_SECURITY_POLICY with every HTML response that has no policy of its own.

    A response that already carries one keeps it: served media has a stricter sandboxing policy
    (mediastore.serving). With DEBUG on, error pages are left without a policy, because Django's
    debug pages rely on inline script and style; DEBUG is refused in production.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if CSP_HEADER in response or not response.get("Content-Type", "").startswith("text/html"):
            return response
        if settings.DEBUG and response.status_code >= 400:
            return response
        response[CSP_HEADER] = CONTENT_SECURITY_POLICY
        return response
