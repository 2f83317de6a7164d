"""Writes for accounts: API clients and tokens, and the audit log every service writes to."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.db import IntegrityError, models, transaction
from django.utils.text import slugify

from accounts.models import (
    ApiClient,
    ApiToken,
    AuditLog,
    User,
    ViewingPreferences,
    WebhookSecret,
)
from accounts.roles import API_CLIENT
from accounts.signals import callback_url_checking

TOKEN_PREFIX = "pvn_"
TOKEN_BYTES = 32
WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET_BYTES = 32
MAX_CLIENT_NAME_LENGTH = 200


class ClientError(ValueError):
    """A client cannot be created as asked; the message says why."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class CallbackUrlRefused(ValueError):
    """Raised by a callback URL check; `code` is `invalid_callback_url` or
    `unsafe_callback_url`."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def callback_url_checked(url: str) -> tuple[str, list[str]]:
    """(the callback URL to store, "" for none; warnings), or ClientError.

    The checks are the receivers of `accounts.signals.callback_url_checking` (integrations
    connects the SSRF rules of its requests). Sent with `send`, not `send_robust`: a check that
    refuses (CallbackUrlRefused) or fails stops the creation, so nothing unchecked is stored.
    Without a receiver a URL is refused too: an unchecked address would be called with every
    event.
    """
    url = url.strip()
    if not url:
        return "", []
    if not callback_url_checking.has_listeners(sender=callback_url_checked):
        raise ClientError("no callback URL check is installed", code="unsafe_callback_url")
    try:
        outcomes = callback_url_checking.send(sender=callback_url_checked, url=url)
    except CallbackUrlRefused as refused:
        raise ClientError(str(refused), code=refused.code) from None
    return url, [warning for _, warnings in outcomes for warning in warnings or []]


@dataclass(frozen=True)
class IssuedClient:
    client: ApiClient
    token: str
    webhook_secret: str
    warnings: tuple[str, ...] = ()  # about the callback URL; it was accepted


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit entry; call inside the transaction of the write it records."""
    return AuditLog.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
    )


def api_token_issue(*, client: ApiClient, actor: User | None = None) -> str:
    """Create a token for the client and return it; only its digest is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    ApiToken.objects.create(client=client, prefix=token[:12], digest=token_digest(token))
    audit_record(actor=actor, action="api_token.issue", target=client)
    return token


def webhook_secret_issue(*, client: ApiClient, actor: User | None = None) -> str:
    secret = WEBHOOK_SECRET_PREFIX + base64.b64encode(
        secrets.token_bytes(WEBHOOK_SECRET_BYTES)
    ).decode("ascii")
    WebhookSecret.objects.create(client=client, secret=secret)
    audit_record(actor=actor, action="webhook_secret.issue", target=client)
    return secret


@transaction.atomic
def api_client_create(
    *, name: str, callback_url: str = "", actor: User | None = None
) -> IssuedClient:
    """Create a client with its service user, one token and one webhook secret. A callback URL
    must pass the registered checks (an address inside is refused, see callback_url_checked)."""
    name = name.strip()
    if not name or len(name) > MAX_CLIENT_NAME_LENGTH:
        raise ClientError(f"name must be 1 to {MAX_CLIENT_NAME_LENGTH} characters")
    slug = slugify(name)[:64]
    if not slug:
        raise ClientError(f"name {name!r} has no letters or digits to make a slug from")
    callback_url, warnings = callback_url_checked(callback_url)
    if ApiClient.objects.filter(slug=slug).exists():
        raise ClientError(f"a client named {slug!r} already exists", code="duplicate")
    try:
        with transaction.atomic():
            user = User.objects.create(username=f"client:{slug}", is_active=True)
            user.set_unusable_password()
            user.save(update_fields=["password"])
            client = ApiClient.objects.create(
                name=name, slug=slug, user=user, callback_url=callback_url
            )
    except IntegrityError:
        raise ClientError(f"a client named {slug!r} already exists", code="duplicate") from None
    user.groups.add(Group.objects.get_or_create(name=API_CLIENT)[0])
    audit_record(actor=actor, action="api_client.create", target=client, data={"name": name})
    token = api_token_issue(client=client, actor=actor)
    secret = webhook_secret_issue(client=client, actor=actor)
    return IssuedClient(client=client, token=token, webhook_secret=secret, warnings=tuple(warnings))


def viewing_preferences_set(
    *, user: User, always_blur: bool, greyscale: bool
) -> ViewingPreferences:
    """Store the user's viewing preferences (one row per user, created on first save)."""
    preferences, _ = ViewingPreferences.objects.update_or_create(
        user=user, defaults={"always_blur": always_blur, "greyscale": greyscale}
    )
    return preferences
