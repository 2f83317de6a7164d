"""A reviewer's own settings and saved queue searches (reads and writes; the queue: review.py).

One home for the defaults: `ReviewerSettings`' field defaults, read through `reviewer_settings`
for users who never changed anything (no row is written until they do).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.db import IntegrityError, transaction

from accounts.models import User
from moderation.models import ReviewerSettings, SavedQueueFilter

MAX_SAVED_FILTERS = 30
MAX_SAVED_FILTER_NAME = SavedQueueFilter._meta.get_field("name").max_length or 80
MAX_SAVED_FILTER_QUERY = SavedQueueFilter._meta.get_field("query").max_length or 1000
# The queue's own parameters: a saved search keeps these and drops anything else (page, junk).
SAVED_FILTER_KEYS = ("q", "label", "platform", "from", "to", "mine", "group", "sort")


class SavedFilterError(Exception):
    """A search cannot be saved as asked; the message says why (shown to the user)."""


def reviewer_settings(user: User) -> ReviewerSettings:
    """The user's settings, or the defaults (unsaved) when they never changed them."""
    found = ReviewerSettings.objects.filter(user=user).first()
    return found if found is not None else ReviewerSettings(user=user)


def reviewer_settings_update(*, user: User, advance_after_decision: bool) -> ReviewerSettings:
    updated, _ = ReviewerSettings.objects.update_or_create(
        user=user, defaults={"advance_after_decision": advance_after_decision}
    )
    return updated


def saved_filters(user: User) -> list[SavedQueueFilter]:
    return list(SavedQueueFilter.objects.filter(user=user))


def queue_query_clean(query: str) -> str:
    """The queue parameters of a query string, in a fixed order, without empty values."""
    pairs = [(key, value) for key, value in parse_qsl(query) if key in SAVED_FILTER_KEYS and value]
    pairs.sort(key=lambda pair: SAVED_FILTER_KEYS.index(pair[0]))
    return urlencode(pairs)


def saved_filter_create(*, user: User, name: str, query: str) -> SavedQueueFilter:
    """Save the queue search `query` under `name`; saving a name again replaces its search."""
    name = " ".join(name.split())
    if not name:
        raise SavedFilterError("Give the saved filter a name.")
    if len(name) > MAX_SAVED_FILTER_NAME:
        raise SavedFilterError(f"Names are limited to {MAX_SAVED_FILTER_NAME} characters.")
    cleaned = queue_query_clean(query)
    if len(cleaned) > MAX_SAVED_FILTER_QUERY:
        raise SavedFilterError("This search is too long to save.")
    existing = SavedQueueFilter.objects.filter(user=user, name=name)
    if not existing.exists() and SavedQueueFilter.objects.filter(user=user).count() >= (
        MAX_SAVED_FILTERS
    ):
        raise SavedFilterError(f"You can keep up to {MAX_SAVED_FILTERS} saved filters.")
    try:
        with transaction.atomic():
            saved, _ = SavedQueueFilter.objects.update_or_create(
                user=user, name=name, defaults={"query": cleaned}
            )
    except IntegrityError as error:  # the same name saved at the same moment elsewhere
        raise SavedFilterError("A filter with this name was just saved; try again.") from error
    return saved


def saved_filter_delete(*, user: User, filter_id: int) -> bool:
    """Delete one of the user's saved filters; False when it is not theirs or gone."""
    deleted, _ = SavedQueueFilter.objects.filter(user=user, pk=filter_id).delete()
    return deleted > 0
