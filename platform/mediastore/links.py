"""The one rule for links that come from outsiders: http(s) only.

A link typed by a person or sent by a platform ends up in an `href` (case pages, public
fact-checks, the review UI) and in published ClaimReview JSON-LD. `javascript:`, `data:` or
`vbscript:` there runs script or shows a page of the attacker's choosing when someone clicks, so
every such URL is checked with `http_url_check` before it is stored and passed through
`http_url` (the `http_url` template filter) before it is rendered, which also covers rows stored
before the check existed. Needs no settings: usable from factcheck, moderation, integrations and
frontend alike.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

LINK_SCHEMES = ("http", "https")
# Every URL column of the project is a URLField(max_length=2000).
MAX_LINK_LENGTH = 2000
UNSAFE_LINK_CODE = "url_not_http"
# How much of a refused value a message repeats (the whole value could be 2000 characters).
SHOWN_VALUE_LENGTH = 60

_validator = URLValidator(schemes=list(LINK_SCHEMES))


class UnsafeLink(ValueError):
    """A URL that is not an absolute http(s) URL of at most MAX_LINK_LENGTH characters."""

    code = UNSAFE_LINK_CODE

    def __init__(self, field: str, value: str) -> None:
        shown = value if len(value) <= SHOWN_VALUE_LENGTH else value[:SHOWN_VALUE_LENGTH] + "…"
        super().__init__(
            f"{field}: only http:// and https:// links of at most {MAX_LINK_LENGTH} characters "
            f"are accepted, not {shown!r}"
        )
        self.field = field


def http_url(value: object) -> str:
    """The stripped URL when it is an absolute http(s) URL, else "" (never raises)."""
    if not isinstance(value, str):
        return ""
    url = value.strip()
    if not url or len(url) > MAX_LINK_LENGTH:
        return ""
    try:
        _validator(url)
    except ValidationError:
        return ""
    return url


def http_url_check(value: object, *, field: str) -> str:
    """The stripped URL, "" for an empty value, or UnsafeLink naming `field`."""
    text = value.strip() if isinstance(value, str) else ""
    if value is None or (isinstance(value, str) and not text):
        return ""
    url = http_url(value)
    if not url:
        raise UnsafeLink(field, text or repr(value))
    return url
