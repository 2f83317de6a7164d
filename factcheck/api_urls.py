from rest_framework.routers import SimpleRouter

from factcheck.api import ReferenceViewSet

router = SimpleRouter()
router.register("references", ReferenceViewSet, basename="reference")
# /api/v1/cases/ (factcheck.cases.api) is mounted by moderation.api_urls, with linked submissions.
urlpatterns = router.urls
