"""Webhook endpoints of API clients, inbound webhooks received, outbound deliveries and attempts.

Signing secrets are `accounts.WebhookSecret` rows (several per client, each with an optional
expiry), shared by both directions: every valid one verifies what we receive and signs what we
send.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from config.querysets import TouchingManager


class WebhookEndpoint(models.Model):
    """Where a client wants events sent, and which ones."""

    client = models.ForeignKey(
        "accounts.ApiClient", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types sent here; empty means all of them."
    )
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingManager()

    class Meta:
        ordering = ["client_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "url"], name="webhook_endpoint_url_unique")
        ]

    def __str__(self) -> str:
        return f"{self.client} -> {self.url}"

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class InboundWebhook(models.Model):
    """One accepted inbound delivery; the unique (client, webhook_id) makes duplicates no-ops."""

    class Status(models.TextChoices):
        FETCHING = "fetching", "Fetching the media"
        SUBMITTED = "submitted", "Submitted for analysis"
        FAILED = "failed", "Failed"

    client = models.ForeignKey(
        "accounts.ApiClient", on_delete=models.CASCADE, related_name="inbound_webhooks"
    )
    webhook_id = models.CharField(max_length=200)
    type = models.CharField(max_length=64)
    external_id = models.CharField(max_length=200)
    media_url = models.URLField(max_length=2000, blank=True)
    payload = models.JSONField(help_text="The payload as received, without inline media bytes.")
    status = models.CharField(max_length=16, choices=Status.choices)
    submission = models.ForeignKey(
        "moderation.Submission",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    error = models.TextField(blank=True)
    fetch_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next fetch attempt is due (after a failure)."
    )
    # When a task for the next attempt was put on the broker; empty while a retry waits in the
    # database for beat (integrations.scheduling). A new row's first fetch is queued with it.
    queued_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingManager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "webhook_id"], name="inbound_webhook_id_unique_per_client"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client}:{self.webhook_id} ({self.status})"


class Delivery(models.Model):
    """One event for one endpoint, tried until delivered, given up, or the endpoint goes away."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        "moderation.Event", on_delete=models.CASCADE, related_name="deliveries"
    )
    event_type = models.CharField(max_length=64)
    webhook_id = models.CharField(max_length=200, help_text="Same on every attempt.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a task for the next attempt was put on the broker; empty while a retry waits in the
    # database for beat (integrations.scheduling). A new delivery's first attempt is queued with it.
    queued_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    # A lease, so two copies of the task never send at the same time.
    locked_until = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    redeliveries = models.PositiveIntegerField(default=0)
    # The retry schedule restarts on manual redelivery; attempts before it don't count.
    attempts_before_redelivery = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once_per_endpoint")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.event_id} -> endpoint {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.FloatField()
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="delivery_attempt_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
