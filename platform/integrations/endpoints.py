"""Per-client webhook settings: signing secrets (rotation) and outbound endpoints."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiClient, User, WebhookSecret
from accounts.services import CallbackUrlRefused, audit_record, webhook_secret_issue
from integrations.models import WebhookEndpoint
from integrations.safe_http import (
    ALLOWED_SCHEMES,
    MAX_URL_LENGTH,
    UnsafeUrl,
    url_destination_check,
    url_scheme_allowed,
)
from moderation.events import EVENT_TYPES

# How long the secrets a rotation replaces keep working, so senders can switch without a gap.
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)
MAX_ROTATION_OVERLAP = timedelta(days=30)


class EndpointError(ValueError):
    """The endpoint or secret change is not possible as asked; the message says why."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def webhook_secrets_valid(*, client: ApiClient) -> list[str]:
    """Every secret that verifies inbound webhooks now, newest first."""
    now = timezone.now()
    return list(
        WebhookSecret.objects.filter(client=client)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-id")
        .values_list("secret", flat=True)
    )


def webhook_secrets_by_slug(*, slug: str) -> tuple[int | None, list[str]]:
    """(client id, valid secrets newest first) of an active client, in one query: the inbound
    endpoint's hot path. (None, []) when the client is unknown, inactive or has no valid secret.
    """
    # Plain SQL: the same query through the ORM costs ~2 ms of CPU to build per request, a
    # third of the endpoint's budget under load (docs/benchmarks.md, "Webhooks").
    secret_table = connection.ops.quote_name(WebhookSecret._meta.db_table)
    client_table = connection.ops.quote_name(ApiClient._meta.db_table)
    query = (
        f"SELECT s.client_id, s.secret FROM {secret_table} s "  # noqa: S608 - names from _meta
        f"JOIN {client_table} c ON c.id = s.client_id "
        "WHERE c.slug = %s AND c.is_active AND (s.expires_at IS NULL OR s.expires_at > %s) "
        "ORDER BY s.created_at DESC, s.id DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [slug, connection.ops.adapt_datetimefield_value(timezone.now())])
        rows = cursor.fetchall()
    if not rows:
        return None, []
    return rows[0][0], [secret for _, secret in rows]


@transaction.atomic
def webhook_secret_rotate(
    *,
    client: ApiClient,
    expire_old_in: timedelta = DEFAULT_ROTATION_OVERLAP,
    actor: User | None = None,
) -> str:
    """Issue a new secret; the valid older ones expire after `expire_old_in` (0: now)."""
    if expire_old_in < timedelta(0) or expire_old_in > MAX_ROTATION_OVERLAP:
        raise EndpointError(
            f"old secrets may stay valid for 0 to {MAX_ROTATION_OVERLAP.days} days, "
            f"not {expire_old_in}"
        )
    now = timezone.now()
    expires_at = now + expire_old_in
    # Only shorten lifetimes: a secret already due to expire sooner keeps its date.
    WebhookSecret.objects.filter(client=client).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=expires_at)
    ).update(expires_at=expires_at)
    secret = webhook_secret_issue(client=client, actor=actor)
    audit_record(
        actor=actor,
        action="webhook_secret.rotate",
        target=client,
        data={"old_expire_at": expires_at.isoformat()},
    )
    return secret


def endpoint_url_check(url: str) -> str:
    """The URL to store for outbound events, or EndpointError: the shape, then the rules of
    every request (safe_http.url_destination_check), so an address inside is refused now
    rather than retried for a day. A name that does not resolve now is accepted (each
    delivery vets it again); `endpoint_url_warnings` says so."""
    url = url.strip()
    try:
        URLValidator(schemes=list(ALLOWED_SCHEMES))(url)
        shaped = url_scheme_allowed(url)
    except ValidationError:
        shaped = False
    if not shaped:
        raise EndpointError(
            f"not an http(s) URL of at most {MAX_URL_LENGTH} characters: {url!r}",
            code="invalid_url",
        )
    try:
        url_destination_check(url)
    except UnsafeUrl as error:
        raise EndpointError(f"{url!r} is refused: {error}", code="unsafe_url") from None
    return url


def endpoint_url_warnings(url: str) -> list[str]:
    """What to tell the operator about an accepted URL (never a refusal)."""
    try:
        resolves = url_destination_check(url)
    except UnsafeUrl:
        return []
    if resolves:
        return []
    return [
        f"{urlsplit(url).hostname!r} does not resolve now; every delivery resolves it again "
        "and refuses it then if it leads to a non-public address"
    ]


def callback_url_receiver(sender: object, *, url: str, **kwargs: object) -> list[str]:
    """Receiver of `accounts.signals.callback_url_checking` (connected in
    IntegrationsConfig.ready): a client's callback URL follows the same rules as endpoints."""
    return callback_url_check(url)


def callback_url_check(url: str) -> list[str]:
    """Warnings about a client's callback URL, or CallbackUrlRefused."""
    try:
        endpoint_url_check(url)
    except EndpointError as error:
        code = "unsafe_callback_url" if error.code == "unsafe_url" else "invalid_callback_url"
        raise CallbackUrlRefused(str(error), code=code) from None
    return endpoint_url_warnings(url)


def event_types_check(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise EndpointError(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}"
        )
    return sorted(set(event_types))


@transaction.atomic
def webhook_endpoint_save(
    *,
    client: ApiClient,
    url: str,
    event_types: list[str] | None = None,
    is_active: bool = True,
    actor: User | None = None,
) -> WebhookEndpoint:
    """Create or update the client's endpoint at `url`; enabling clears a disabled reason."""
    url = endpoint_url_check(url)
    values: dict[str, object] = {"is_active": is_active}
    if event_types is not None:
        values["event_types"] = event_types_check(event_types)
    if is_active:
        values["disabled_reason"] = ""
    else:
        values["disabled_reason"] = "disabled by an operator"
    endpoint, created = WebhookEndpoint.objects.update_or_create(
        client=client, url=url, defaults=values
    )
    audit_record(
        actor=actor,
        action="webhook_endpoint.create" if created else "webhook_endpoint.update",
        target=endpoint,
        data={"url": url, "event_types": endpoint.event_types, "is_active": is_active},
    )
    return endpoint


def webhook_endpoint_default_ensure(*, client: ApiClient) -> None:
    """A client's `callback_url` (create_api_client) is its endpoint for all events until it
    configures endpoints itself."""
    if client.callback_url and not WebhookEndpoint.objects.filter(client=client).exists():
        WebhookEndpoint.objects.get_or_create(
            client=client, url=client.callback_url, defaults={"event_types": []}
        )


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> bool:
    """Compare-and-set, so only the first of several concurrent 410s records its reason."""
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_reason=reason[:200], updated_at=timezone.now()
    )
    if disabled:
        audit_record(
            actor=None, action="webhook_endpoint.disable", target=endpoint, data={"reason": reason}
        )
    return disabled == 1
