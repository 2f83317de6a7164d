from rest_framework.routers import SimpleRouter

from factcheck.api import ReferenceViewSet
from factcheck.cases.api import CaseViewSet

router = SimpleRouter()
router.register("references", ReferenceViewSet, basename="reference")
# "api-case", not "case": the review UI owns the page names case-list and case-detail.
router.register("cases", CaseViewSet, basename="api-case")
urlpatterns = router.urls
