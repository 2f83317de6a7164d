"""The API documentation page under the site's Content-Security-Policy.

drf-spectacular's Swagger UI page starts Swagger UI with an inline script and styles the page
with an inline <style>. This serves the same page with both in files: the init script comes
from drf-spectacular's split view (a same-origin script that also carries the CSRF token, so
nothing reads the cookie), the page style from frontend/api-docs.css.

Redoc is not served: it inserts <style> elements before it can be given a nonce, starts its
search in a blob: worker and loads its logo from a third-party CDN on every visit, none of which
the policy allows. /api/redoc/ sends readers to Swagger UI, which documents the same schema and
can also try requests.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "frontend/api/swagger_ui.html"
