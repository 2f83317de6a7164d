"""The API documentation page under the site's Content-Security-Policy.

drf-spectacular's Swagger UI page starts Swagger UI with an inline script and styles the page
with an inline <style>. This serves the same page with both in files: the init script comes
from drf-spectacular's split view (a same-origin script that also carries the CSRF token, so
nothing reads the cookie), the page style from frontend/api-docs.css.

Redoc (/api/redoc/) is served offline too: its bundle from drf-spectacular-sidecar's static
files, started by frontend/api-redoc.js with the system's fonts (drf-spectacular's page loads
Google Fonts) and no off-site image (Redoc's sidebar loads a logo from Redocly's CDN). It needs
inline styles and a blob: worker, so its route carries its own policy
(config.middleware.REDOC_CONTENT_SECURITY_POLICY, applied in config.urls); scripts stay 'self'.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "frontend/api/swagger_ui.html"


class ApiRedocView(SpectacularRedocView):
    template_name = "frontend/api/redoc.html"
