"""schemathesis against /api/schema/ through the WSGI app, bounded: every operation gets a few
dozen generated requests from an API client (token) and from an admin (session + CSRF); none may
answer 5xx, and every answer must match the schema's body and content type.

Not checked: status_code_conformance (drf-spectacular documents only the success and the
validation answers, not every 401/403/404 DRF can give) and negative_data_rejection (DRF
accepts unknown extra fields by design). Longer run:
SCHEMATHESIS_MAX_EXAMPLES=500 pytest tests/security/test_api_schemathesis.py
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.middleware.csrf import (  # type: ignore[attr-defined]  # private; django-stubs omit it
    _get_new_csrf_string,
    _mask_cipher_secret,
)
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@pytest.fixture
def api_schema(db):
    # A real WSGI request ends by closing the database connection, which would close the test's
    # transaction; Django's own test client suspends that signal the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(world, personas, client) -> dict[str, dict]:
    client.force_login(personas["admin"])
    csrf_secret = _get_new_csrf_string()
    session_cookie = client.cookies["sessionid"].value
    return {
        "client": {"Authorization": f"Bearer {world.own_token}"},
        "admin": {
            "cookies": {"sessionid": session_cookie, "csrftoken": csrf_secret},
            "X-CSRFToken": _mask_cipher_secret(csrf_secret),
            "Referer": "http://testserver/",
        },
    }


def _with_real_ids(case, real_ids: dict[str, int]) -> bool:
    """Point the case's {id} at a real object (random ids almost always answer 404)."""
    if not case.path_parameters or "id" not in case.path_parameters:
        return False
    prefix = next((p for p in real_ids if case.operation.path.startswith(p)), None)
    if prefix is None:
        return False
    case.path_parameters = {**case.path_parameters, "id": real_ids[prefix]}
    return True


def _call_as_everyone(case, auth_headers, statuses, reached) -> None:
    generated = {k: v for k, v in (case.headers or {}).items() if k != "Authorization"}
    generated_cookies = dict(case.cookies or {})
    for auth in auth_headers.values():
        headers = dict(auth)
        # Ours win over generated security headers (a random Authorization is a 401); the
        # WSGI transport takes cookies apart from headers.
        case.cookies = {**generated_cookies, **headers.pop("cookies", {})}
        case.headers = {**generated, **headers}
        response = case.call_and_validate(checks=CHECKS)
        statuses[response.status_code] += 1
        if response.status_code < 300:
            reached.add(case.operation.label)


@pytest.mark.slow
def test_api_conforms_and_never_answers_5xx(api_schema, auth_headers, world) -> None:
    # Operations are walked here rather than with schemathesis' pytest plugin, whose lazy
    # fixture loading relies on a pytest internal that pytest 9 no longer has.
    failures: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    reached: set[str] = set()  # operations that answered 2xx at least once
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:
            _call_as_everyone(case, auth_headers, statuses, reached)
            if _with_real_ids(case, world.real_ids):
                _call_as_everyone(case, auth_headers, statuses, reached)

        try:
            run()
        except Exception as error:  # one report for every failing operation
            failures[operation.label] = str(error)[:1500]
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    # The run got past authentication into the views, not only 401/403/404 answers.
    assert len(reached) >= 15, (sorted(reached), statuses)
    assert sum(n for code, n in statuses.items() if 400 <= code < 500) > 0, statuses
