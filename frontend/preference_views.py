"""The reviewer's viewing preferences (wellness): always blur, greyscale. Thin: the read is
accounts.selectors.viewing_preferences_of, the write accounts.services.viewing_preferences_set."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.authentication import signed_in_user
from accounts.selectors import viewing_preferences_of
from accounts.services import viewing_preferences_set
from frontend.review_views import local_path, reviewer_view


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
        back = local_path(request, request.POST.get("next", ""))
        return redirect(back or reverse("review-preferences"))
    response: HttpResponse = render(
        request,
        "frontend/preferences.html",
        {
            "preferences": viewing_preferences_of(user),
            "next": local_path(request, request.GET.get("next", "")),
        },
    )
    return response
