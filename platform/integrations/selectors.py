from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from accounts.models import ApiClient, User
from integrations.models import Delivery


def api_client_of(user: User | AnonymousUser) -> ApiClient | None:
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    return ApiClient.objects.filter(user=user, is_active=True).first()


def deliveries_of_client(
    *, client: ApiClient, status: str = "", event_type: str = ""
) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(endpoint__client=client).select_related("endpoint")
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    return deliveries.prefetch_related("attempts")
