"""Users, API clients (SNS platforms and integrations) with hashed tokens, and the audit log."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person (moderator, fact-checker, admin) or the service account of an API client.

    Roles are groups: `accounts.roles.user_has_role(user, role)`."""


class ApiClient(models.Model):
    """An SNS platform or integration that calls the API and receives webhooks."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client"
    )
    callback_url = models.URLField(max_length=2000, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 digest is stored, the token is shown once."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a token.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.client.slug}:{self.prefix}..."


class WebhookSecret(models.Model):
    """A Standard Webhooks signing secret. HMAC needs the secret itself, so it cannot be hashed."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="webhook_secrets")
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.client.slug}:{self.secret[:10]}..."


class AuditLog(models.Model):
    """One row per write made through a service: who did what to which object, and when."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_type}:{self.target_id}"
        )


class ViewingPreferences(models.Model):
    """A reviewer's wellness settings for the media on review pages (one row per user; a user
    without one has the defaults)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="viewing_preferences"
    )
    always_blur = models.BooleanField(
        default=False, help_text="Open every item blurred, not only those marked sensitive."
    )
    greyscale = models.BooleanField(default=False, help_text="Show images in shades of grey.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"viewing preferences of {self.user}"
