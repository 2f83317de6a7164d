from django.urls import path
from rest_framework.renderers import JSONRenderer
from rest_framework.routers import SimpleRouter

from moderation.api import PngRenderer, SubmissionViewSet

router = SimpleRouter()
router.register("submissions", SubmissionViewSet, basename="submission")
urlpatterns = [
    path(
        "submissions/<int:pk>/artifacts/<str:kind>.png",
        SubmissionViewSet.as_view(
            {"get": "artifact"}, renderer_classes=[JSONRenderer, PngRenderer]
        ),
        name="submission-artifact",
    ),
    *router.urls,
]
