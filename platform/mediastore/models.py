"""Media objects, stored once per content (the file is named by its SHA-256)."""

from django.db import models


class MediaObject(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image"
        VIDEO = "video"

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(max_length=255)
    mime = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.IMAGE)
    format = models.CharField(max_length=16, help_text="Container that read it, e.g. JPEG, MP4.")
    size = models.PositiveBigIntegerField(help_text="Bytes.")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Videos only: the header's duration (null when the container declares none) and frame rate.
    duration_s = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} {self.format} {self.width}x{self.height}"
