"""HTTP requests to addresses chosen by outsiders (media URLs, callback URLs), made safe.

Server-side request forgery defences: http(s) only; the host is resolved once and every address
it resolves to must be public (no private, loopback, link-local, reserved, multicast ...); the
connection goes to that vetted address (so a second, different DNS answer cannot be used), with
the original host name for the Host header, TLS SNI and certificate check; redirects are
followed by hand and every hop is checked again; the body and the whole exchange are bounded.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from django.conf import settings

ALLOWED_SCHEMES = ("http", "https")
CONNECT_TIMEOUT_SECONDS = 5.0
READ_CHUNK_BYTES = 64 * 1024
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
MAX_URL_LENGTH = 2000


class UnsafeUrl(ValueError):
    """The URL or an address it leads to is not allowed; nothing was sent to it."""


class FetchFailed(OSError):
    """The exchange failed (network, limits, too many redirects); may succeed if retried."""


@dataclass
class SafeResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    redirects: list[str] = field(default_factory=list)


def url_scheme_allowed(url: object) -> bool:
    """Cheap shape check before storing a URL: http(s) and at most MAX_URL_LENGTH characters.
    url_target makes the full check (host, port, addresses) when the URL is used."""
    if not isinstance(url, str) or ":" not in url or len(url) > MAX_URL_LENGTH:
        return False
    return url.split(":", 1)[0].lower() in ALLOWED_SCHEMES


def host_addresses(host: str, port: int) -> list[str]:
    """Every address the name resolves to (tests replace this to simulate DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        # Only the loopback range; private and link-local stay refused even in tests.
        return bool(getattr(settings, "WEBHOOK_FETCH_ALLOW_LOOPBACK", False))
    return ip.is_global and not ip.is_multicast


def url_target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, vetted address) of an allowed URL, or UnsafeUrl."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise UnsafeUrl("not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeUrl(f"scheme {scheme or '(none)'!r} is not http or https")
    if parts.username or parts.password:
        raise UnsafeUrl("credentials in URLs are not allowed")
    if not host:
        raise UnsafeUrl("URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("URL has an invalid port") from None
    try:
        addresses = host_addresses(host, port)
    except (OSError, UnicodeError) as error:
        raise FetchFailed(f"cannot resolve {host!r}: {error}") from None
    if not addresses:
        raise FetchFailed(f"{host!r} resolves to no address")
    refused = [address for address in addresses if not address_allowed(address)]
    if refused:
        # All or nothing: a name that also points inside is refused whatever we would pick.
        raise UnsafeUrl(f"{host!r} resolves to a non-public address ({refused[0]})")
    return scheme, host, port, addresses[0]


def url_destination_check(url: str) -> bool:
    """Refuse (UnsafeUrl), before it is stored, a URL every request to it would refuse: not
    http(s), credentials, a bad port, no host, or a host that is or resolves to a non-public
    address (loopback only with WEBHOOK_FETCH_ALLOW_LOOPBACK).

    Returns False for a name that does not resolve now: it is accepted, because DNS may not
    have it yet (or not from this host) and every request resolves and vets it again."""
    try:
        url_target(url)
    except FetchFailed:
        return False
    return True


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._timeout = timeout

    def connect(self) -> None:
        self.sock = socket.create_connection(
            (self._address, self.port), timeout=min(self._timeout, CONNECT_TIMEOUT_SECONDS)
        )
        self.sock.settimeout(self._timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address
        self._timeout = timeout

    def connect(self) -> None:
        raw = socket.create_connection(
            (self._address, self.port), timeout=min(self._timeout, CONNECT_TIMEOUT_SECONDS)
        )
        raw.settimeout(self._timeout)
        # SNI and the certificate check use the name from the URL, not the pinned address.
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def safe_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    max_bytes: int,
    timeout: float,
    max_redirects: int = 0,
    truncate: bool = False,
) -> SafeResponse:
    """One request (plus up to `max_redirects` GET redirects), all within `timeout` seconds.

    A body over `max_bytes` is an error, or with `truncate` cut to its first `max_bytes`.
    """
    deadline = time.monotonic() + timeout
    redirects: list[str] = []
    while True:
        response = _exchange(method, url, body, headers or {}, max_bytes, deadline, truncate)
        location = response.headers.get("location")
        if response.status not in REDIRECT_STATUSES or not location or max_redirects == 0:
            response.redirects = redirects
            return response
        if len(redirects) >= max_redirects:
            raise FetchFailed(f"more than {max_redirects} redirects")
        url = urljoin(url, location)
        redirects.append(url)
        method, body = "GET", None


def _exchange(
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    max_bytes: int,
    deadline: float,
    truncate: bool,
) -> SafeResponse:
    scheme, host, port, address = url_target(url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchFailed("time limit reached")
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, timeout=remaining)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        declared = response.getheader("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes and not truncate:
            raise FetchFailed(f"response of {declared} bytes is over the {max_bytes}-byte limit")
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchFailed("time limit reached while reading the response")
            # A server dripping bytes must not stretch the exchange past the deadline.
            if connection.sock is not None:
                connection.sock.settimeout(remaining)
            chunk = response.read1(READ_CHUNK_BYTES)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                if not truncate:
                    raise FetchFailed(f"response is over the {max_bytes}-byte limit")
                chunks.append(chunk[: max_bytes - (size - len(chunk))])
                break
            chunks.append(chunk)
        return SafeResponse(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=b"".join(chunks),
            url=url,
        )
    except (OSError, http.client.HTTPException) as error:
        if isinstance(error, FetchFailed):
            raise
        raise FetchFailed(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()
