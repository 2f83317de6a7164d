"""The reviewer's viewing preferences (wellness): always blur, greyscale. Thin: the read is
accounts.selectors.viewing_preferences_of, the write accounts.services.viewing_preferences_set."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts.authentication import signed_in_user
from accounts.selectors import viewing_preferences_of
from accounts.services import viewing_preferences_set
from frontend.review_views import reviewer_view


def _safe_next(request: HttpRequest, target: str) -> str:
    """A local page to go back to; anything else (another site, a javascript: URL) is ignored."""
    if (
        target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and target.startswith("/")
    ):
        return target
    return ""


@reviewer_view
@require_http_methods(["GET", "POST"])
def viewing_preferences(request: HttpRequest) -> HttpResponseBase:
    user = signed_in_user(request)
    if request.method == "POST":
        viewing_preferences_set(
            user=user,
            always_blur=request.POST.get("always_blur") == "on",
            greyscale=request.POST.get("greyscale") == "on",
        )
        messages.success(request, "Viewing preferences saved.")
        back = _safe_next(request, request.POST.get("next", ""))
        return redirect(back or reverse("review-preferences"))
    response: HttpResponse = render(
        request,
        "frontend/preferences.html",
        {
            "preferences": viewing_preferences_of(user),
            "next": _safe_next(request, request.GET.get("next", "")),
        },
    )
    return response
