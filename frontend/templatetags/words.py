"""`{{ entry.action|action_words }}` and `{{ entry.kind|case_event_words }}`: stored codes in
words (frontend.action_words holds them)."""

from __future__ import annotations

from django import template

from frontend import action_words as words

register = template.Library()


@register.filter
def action_words(code: object) -> str:
    return words.action_words(str(code))


@register.filter
def case_event_words(kind: object) -> str:
    return words.case_event_words(str(kind))
