"""Conventions of every API view (settings.REST_FRAMEWORK): error bodies and page sizes.

Every refusal carries a stable machine-readable `code` next to its human message, so a client
can branch on it without parsing English; list pages are bounded, and a limit or offset out of
range is a 400 rather than a query the database cannot run (a bigint overflow was a 500).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler

from config.errors import ServiceError, refusal_body
from config.jsoninput import JsonRejected, json_loads_strict

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Deep offsets cost the database a scan of every skipped row; past this, filter instead.
MAX_PAGE_OFFSET = 1_000_000


def _first_code(codes: Any) -> str:
    """The first code of DRF's nested get_codes() structure (dicts and lists of codes)."""
    while isinstance(codes, dict | list):
        if not codes:
            return "invalid"
        codes = next(iter(codes.values())) if isinstance(codes, dict) else codes[0]
    return str(codes)


def api_exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    """A service's refusal (config.errors.ServiceError) as its status and body; otherwise DRF's
    handler, plus `code` on every error body (the first field error's code for validation
    errors: "required", "empty", "invalid", "max_length" ...)."""
    if isinstance(error, ServiceError):
        status, body = refusal_body(error)
        return Response(body, status=status)
    response = exception_handler(error, context)
    if response is None:
        return response
    if isinstance(error, Http404):  # DRF answers these as NotFound / PermissionDenied
        code = exceptions.NotFound.default_code
    elif isinstance(error, PermissionDenied):
        code = exceptions.PermissionDenied.default_code
    elif isinstance(error, exceptions.APIException):
        code = _first_code(error.get_codes())
    else:
        return response
    if isinstance(response.data, dict):
        response.data.setdefault("code", code)
    else:  # a bare list of messages (ValidationError("...") raised without a field)
        response.data = {"detail": response.data, "code": code}
    return response


class StrictJSONField(serializers.JSONField):
    """A JSON field whose text (multipart and form fields arrive as text) is parsed by
    json_loads_strict: DRF's own json.loads raised RecursionError (a 500) on deep nesting."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str | bytes):
            try:
                return json_loads_strict(data)
            except JsonRejected as error:
                raise serializers.ValidationError(str(error), code=error.code) from None
        return super().to_internal_value(data)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=` 1..MAX_PAGE_SIZE (default DEFAULT_PAGE_SIZE), `?offset=` 0..MAX_PAGE_OFFSET;
    anything else answers 400 with code `invalid_pagination`."""

    default_limit = DEFAULT_PAGE_SIZE
    max_limit = MAX_PAGE_SIZE

    def _bounded(self, request: Request, name: str, *, low: int, high: int, default: int) -> int:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        # isdigit first: int() of a 100,000-digit string is itself a CPU sink.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12 and low <= int(raw) <= high):
            raise exceptions.ValidationError(
                {name: [f"must be an integer from {low} to {high}"]}, code="invalid_pagination"
            )
        return int(raw)

    def get_limit(self, request: Request) -> int:
        return self._bounded(
            request, self.limit_query_param, low=1, high=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
        )

    def get_offset(self, request: Request) -> int:
        return self._bounded(
            request, self.offset_query_param, low=0, high=MAX_PAGE_OFFSET, default=0
        )
