from rest_framework.routers import SimpleRouter

from factcheck.api import ReferenceViewSet

router = SimpleRouter()
router.register("references", ReferenceViewSet, basename="reference")
urlpatterns = router.urls
