from django.urls import path
from rest_framework.renderers import JSONRenderer
from rest_framework.routers import SimpleRouter

from moderation.api import Mp4Renderer, PngRenderer, SubmissionViewSet
from moderation.case_api import CaseViewSet

router = SimpleRouter()
router.register("submissions", SubmissionViewSet, basename="submission")
# The cases API of factcheck.cases with linked submissions and escalation (moderation.case_api).
# "api-case", not "case": the review UI owns the page names case-list and case-detail.
router.register("cases", CaseViewSet, basename="api-case")
urlpatterns = [
    path(
        "submissions/<int:pk>/artifacts/<str:kind>.png",
        SubmissionViewSet.as_view(
            {"get": "artifact"}, renderer_classes=[JSONRenderer, PngRenderer]
        ),
        name="submission-artifact",
    ),
    path(
        "submissions/<int:pk>/artifacts/annotated.mp4",
        SubmissionViewSet.as_view(
            {"get": "annotated_video"}, renderer_classes=[JSONRenderer, Mp4Renderer]
        ),
        name="submission-annotated-video",
    ),
    *router.urls,
]
