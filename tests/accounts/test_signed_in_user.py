"""signed_in_user: the user of a request behind a login check; an anonymous one is refused."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from rest_framework.request import Request

from accounts.authentication import signed_in_user
from accounts.models import User

pytestmark = pytest.mark.django_db


def test_an_anonymous_request_is_refused_not_passed_on() -> None:
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with pytest.raises(PermissionDenied):
        signed_in_user(request)
    with pytest.raises(PermissionDenied):
        signed_in_user(Request(request))


def test_the_signed_in_user_is_returned() -> None:
    user = User.objects.create_user("reviewer", password="x")
    request = RequestFactory().get("/")
    request.user = user
    assert signed_in_user(request) == user


def test_an_anonymous_api_call_is_refused_with_a_code(client) -> None:
    response = client.get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert response.json()["code"]
