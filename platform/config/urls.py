from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from accounts.api import MeView
from config.middleware import REDOC_CONTENT_SECURITY_POLICY, content_security_policy
from frontend.api_docs import ApiDocsView, ApiRedocView
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
    # Redoc needs inline styles and a blob: worker: its own, named policy (frontend.api_docs).
    path(
        "api/redoc/",
        content_security_policy(REDOC_CONTENT_SECURITY_POLICY)(
            ApiRedocView.as_view(url_name="schema")
        ),
        name="redoc",
    ),
    path("", include("frontend.urls")),
]
