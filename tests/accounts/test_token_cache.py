"""Token authentication remembers a token for TOKEN_CACHE_SECONDS: revocation and deactivation
apply within that bound, unknown tokens are never remembered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from accounts import authentication
from accounts.authentication import TOKEN_CACHE_SECONDS, ApiTokenAuthentication
from accounts.models import ApiClient, ApiToken, User
from accounts.services import api_client_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(authentication, "_cache", {})
    return now


def authenticate(token: str) -> tuple[User, ApiToken]:
    request = RequestFactory().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    answer = ApiTokenAuthentication().authenticate(request)
    assert answer is not None
    return answer


@pytest.mark.parametrize("revoke", ["token", "client", "user"])
def test_revocation_applies_at_the_bound(clock, django_assert_num_queries, revoke) -> None:
    issued = api_client_create(name="Example SNS")
    user, api_token = authenticate(issued.token)
    assert user.username == "client:example-sns" and user.api_client == issued.client
    if revoke == "token":
        ApiToken.objects.update(revoked_at=timezone.now())
    elif revoke == "client":
        ApiClient.objects.update(is_active=False)
    else:
        User.objects.filter(pk=user.pk).update(is_active=False)
    clock[0] += TOKEN_CACHE_SECONDS - 0.001
    with django_assert_num_queries(0):  # remembered: nothing is read
        cached_user, cached_token = authenticate(issued.token)
    assert (cached_user.pk, cached_token.pk) == (user.pk, api_token.pk)
    assert cached_user is not user  # fresh objects for every request
    clock[0] += 0.001
    with pytest.raises(AuthenticationFailed):
        authenticate(issued.token)


def test_unknown_tokens_are_not_remembered_and_new_tokens_work_at_once(clock) -> None:
    issued = api_client_create(name="Example SNS")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            authenticate(issued.token + "x")
    assert authenticate(issued.token)[0].username == "client:example-sns"


def test_last_used_is_still_written_once_per_resolution(clock) -> None:
    issued = api_client_create(name="Example SNS")
    authenticate(issued.token)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    authenticate(issued.token)
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - authentication.LAST_USED_RESOLUTION * 2)
    clock[0] += TOKEN_CACHE_SECONDS  # re-read from the database
    authenticate(issued.token)
    last_used_at = ApiToken.objects.get().last_used_at
    assert last_used_at is not None and last_used_at > first - timedelta(seconds=1)
