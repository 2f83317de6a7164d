"""API fields shared by the references and cases APIs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mediastore.links import MAX_LINK_LENGTH, UnsafeLink, http_url_check


@extend_schema_field(OpenApiTypes.URI)
class HttpUrlField(serializers.CharField):
    """An optional http(s) URL (mediastore.links); anything else is a 400 with `url_not_http`.

    DRF's URLField also takes ftp:// and its message names no rule; this one is the rule every
    stored link follows."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_LINK_LENGTH)
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", "")
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            return http_url_check(value, field=self.field_name or "url")
        except UnsafeLink as error:
            raise serializers.ValidationError(str(error), code=error.code) from None
