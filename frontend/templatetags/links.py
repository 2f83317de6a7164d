"""`{{ value|http_url }}`: the URL when it is an absolute http(s) URL, else "".

Every href that shows a link from outside (a platform's metadata, a claim's appearance, evidence,
a reference's source) goes through it, so a javascript: or data: URL stored before intake checked
it renders as plain text, never as a link (mediastore.links holds the rule).
"""

from __future__ import annotations

from django import template

from mediastore import links

register = template.Library()


@register.filter
def http_url(value: object) -> str:
    return links.http_url(value)
