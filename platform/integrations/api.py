"""Deliveries API: a client sees and redelivers its own outbound deliveries, nobody else's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import signed_in_user
from integrations.models import Delivery, DeliveryAttempt
from integrations.outbound import delivery_redeliver
from integrations.selectors import api_client_of, deliveries_of_client


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ("number", "started_at", "latency_ms", "response_status", "error", "succeeded")


class DeliverySerializer(serializers.ModelSerializer):
    endpoint_url = serializers.CharField(source="endpoint.url")
    event_id = serializers.IntegerField()
    attempts = DeliveryAttemptSerializer(many=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "event_id",
            "event_type",
            "webhook_id",
            "endpoint_url",
            "status",
            "attempt_count",
            "last_response_status",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "redeliveries",
            "created_at",
            "attempts",
        )


class IsApiClient(permissions.BasePermission):
    message = "Deliveries belong to API clients; authenticate with a client token."

    def has_permission(self, request: Request, view: Any) -> bool:
        return api_client_of(request.user) is not None


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, enum=[choice for choice, _ in Delivery.Status.choices]),
        OpenApiParameter("event_type", str),
    ]
)
class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = DeliverySerializer
    permission_classes = [permissions.IsAuthenticated, IsApiClient]

    def get_queryset(self) -> QuerySet[Delivery]:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI schema generation
            return Delivery.objects.none()
        client = api_client_of(self.request.user)
        if client is None:
            raise PermissionDenied(IsApiClient.message)
        return deliveries_of_client(
            client=client,
            status=self.request.query_params.get("status", ""),
            event_type=self.request.query_params.get("event_type", ""),
        )

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str | None = None) -> Response:
        delivery = self.get_object()
        # DeliveryError (409 delivery_conflict) is answered by config.drf.
        delivery = delivery_redeliver(delivery=delivery, actor=signed_in_user(request))
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
