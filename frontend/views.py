from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from frontend.selectors import dashboard_counts

# The site's icon: base.html links it; browsers that ask /favicon.ico anyway are sent to it.
FAVICON = "frontend/favicon.ico"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "frontend/home.html", {"counts": dashboard_counts()})


@require_GET
@cache_control(public=True, max_age=86_400)
def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(static(FAVICON))
