"""Bearer-token authentication for API clients (`Authorization: Bearer pvn_...`)."""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiClient, ApiToken, User
from accounts.services import token_digest

KEYWORDS = ("bearer", "token")
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A token that authenticated is remembered per process for this long, so the accept path does not
# load the token, its client and the client's user (three joined rows) on every request. Revoking
# the token or deactivating the client or its user therefore takes effect within
# TOKEN_CACHE_SECONDS in every process (at once for a token not used in that window). Unknown
# and refused tokens are never remembered: a new token works at once.
TOKEN_CACHE_SECONDS = 5.0
MAX_CACHED_TOKENS = 10_000


@dataclass(frozen=True)
class _CachedToken:
    expires: float  # time.monotonic()
    database: str
    token: tuple[Any, ...]  # concrete field values, in _fields(Model) order
    client: tuple[Any, ...]
    user: tuple[Any, ...]


_cache: dict[str, _CachedToken] = {}  # token digest -> what authenticated it
_cache_lock = threading.Lock()


@functools.cache
def _fields(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


def _values(instance: Model) -> tuple[Any, ...]:
    return tuple(getattr(instance, name) for name in _fields(type(instance)))


def _rebuilt(entry: _CachedToken) -> ApiToken:
    """Fresh instances for each request: objects are never shared between threads or requests."""
    user = User.from_db(entry.database, _fields(User), entry.user)
    client = ApiClient.from_db(entry.database, _fields(ApiClient), entry.client)
    api_token = ApiToken.from_db(entry.database, _fields(ApiToken), entry.token)
    client.user = user  # also caches user.api_client (one-to-one), as select_related does
    api_token.client = client
    return api_token


def _lookup(digest: str) -> ApiToken | None:
    now = time.monotonic()
    with _cache_lock:
        entry = _cache.get(digest)
    if entry is not None and entry.expires > now:
        return _rebuilt(entry)
    api_token = (
        ApiToken.objects.select_related("client__user")
        .filter(digest=digest, revoked_at__isnull=True, client__is_active=True)
        .first()
    )
    with _cache_lock:
        if api_token is None or not api_token.client.user.is_active:
            _cache.pop(digest, None)
            return None
        if len(_cache) >= MAX_CACHED_TOKENS:
            _cache.clear()
        _cache[digest] = _CachedToken(
            expires=now + TOKEN_CACHE_SECONDS,
            database=api_token._state.db or "default",
            token=_values(api_token),
            client=_values(api_token.client),
            user=_values(api_token.client.user),
        )
    return api_token


def _mark_used(api_token: ApiToken, digest: str, now: datetime) -> None:
    ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
    api_token.last_used_at = now
    with _cache_lock:
        entry = _cache.get(digest)
        if entry is not None:
            _cache[digest] = replace(entry, token=_values(api_token))


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        digest = token_digest(token)
        api_token = _lookup(digest)
        if api_token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            _mark_used(api_token, digest, now)
        return api_token.client.user, api_token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


def signed_in_user(request: HttpRequest | Request) -> User:
    """The user of a request that passed its view's authentication check.

    Views behind a login or permission check call this instead of reading `request.user`, whose
    type also admits the anonymous user; an anonymous request that still gets here is refused
    (PermissionDenied: 403 in Django and in DRF)."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("sign in first")
    return user
