from typing import Any

from django import forms
from django.contrib import admin, messages

from integrations.endpoints import EndpointError, endpoint_url_check
from integrations.models import Delivery, DeliveryAttempt, InboundWebhook, WebhookEndpoint
from integrations.outbound import DeliveryError, delivery_redeliver


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("client", "url", "event_types", "is_active", "disabled_reason")

    def clean_url(self) -> str:
        try:
            return endpoint_url_check(self.cleaned_data["url"])
        except EndpointError as error:
            raise forms.ValidationError(str(error), code=error.code) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("client", "url", "event_types", "is_active", "disabled_reason", "updated_at")
    list_filter = ("is_active", "client")
    search_fields = ("url", "client__slug")
    readonly_fields = ("created_at", "updated_at")


@admin.register(InboundWebhook)
class InboundWebhookAdmin(admin.ModelAdmin):
    list_display = ("received_at", "client", "webhook_id", "external_id", "status")
    list_filter = ("status", "client")
    search_fields = ("webhook_id", "external_id")
    raw_id_fields = ("submission",)
    readonly_fields = [field.name for field in InboundWebhook._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = (
        "number",
        "started_at",
        "latency_ms",
        "response_status",
        "error",
        "response_excerpt",
        "succeeded",
    )

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "event_type",
        "endpoint",
        "status",
        "attempt_count",
        "last_response_status",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("webhook_id", "endpoint__url", "endpoint__client__slug")
    readonly_fields = [field.name for field in Delivery._meta.fields]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Redeliver the selected deliveries", permissions=["change"])
    def redeliver(self, request: Any, queryset: Any) -> None:
        sent, refused = 0, []
        for delivery in queryset.select_related("endpoint"):
            try:
                delivery_redeliver(delivery=delivery, actor=request.user)
                sent += 1
            except DeliveryError as error:
                refused.append(f"#{delivery.pk}: {error}")
        if sent:
            self.message_user(request, f"{sent} delivery(ies) queued again.", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)
