"""Request guards that apply to every view."""

from __future__ import annotations

from collections.abc import Callable

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
