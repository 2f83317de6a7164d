from django.urls import path
from rest_framework.routers import SimpleRouter

from integrations.api import DeliveryViewSet
from integrations.views import inbound_webhook

router = SimpleRouter()
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("webhooks/inbound/<slug:client>/", inbound_webhook, name="webhook-inbound"),
    *router.urls,
]
