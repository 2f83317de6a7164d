from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from accounts.api import MeView
from frontend.api_docs import ApiDocsView
from ops import views as ops_views

api_v1: list[URLPattern | URLResolver] = [
    path("me/", MeView.as_view(), name="api-me"),
    path("", include("factcheck.api_urls")),
    path("", include("moderation.api_urls")),
    path("", include("integrations.urls")),
]

urlpatterns = [
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="swagger-ui"),
    # Redoc is not served under the site's CSP (frontend.api_docs): old links reach Swagger UI.
    path("api/redoc/", RedirectView.as_view(pattern_name="swagger-ui", permanent=True)),
    path("", include("frontend.urls")),
]
