"""Submissions: one row per piece of content received for analysis."""

from django.conf import settings
from django.db import models


class Submission(models.Model):
    class Source(models.TextChoices):
        API = "api", "API"
        WEBHOOK = "webhook", "Webhook"
        UPLOAD = "upload", "Upload in the web UI"
        CLI = "cli", "Command line"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        ANALYZING = "analyzing", "Analyzing"
        ANALYZED = "analyzed", "Analyzed"
        FAILED = "failed", "Failed"

    client = models.ForeignKey(
        "accounts.ApiClient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="submissions",
        help_text="The platform that sent it; empty for uploads by staff.",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    text = models.TextField(blank=True, help_text="Caption or post text sent with the media.")
    media = models.ForeignKey(
        "mediastore.MediaObject", on_delete=models.PROTECT, related_name="submissions"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("review_submission", "Can claim submissions and decide on them")]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"submission {self.pk} ({self.status})"
