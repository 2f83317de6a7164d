"""Verified originals: the images a query is matched against."""

from django.conf import settings
from django.db import models


class Reference(models.Model):
    media = models.OneToOneField(
        "mediastore.MediaObject", on_delete=models.PROTECT, related_name="reference"
    )
    source = models.CharField(max_length=200, help_text="Who vouches for it, e.g. a news agency.")
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    url = models.URLField(max_length=2000, blank=True)
    caption = models.TextField(blank=True)
    credit = models.CharField(max_length=500, blank=True)
    licence = models.CharField(max_length=200, blank=True)
    published_at = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id or self.pk}"


class Fingerprint(models.Model):
    """What retrieval needs of a reference, computed once when it is added."""

    reference = models.OneToOneField(
        Reference, on_delete=models.CASCADE, related_name="fingerprint"
    )
    pdq = models.BinaryField(max_length=32, help_text="256-bit PDQ hash, packed.")
    pdq_quality = models.PositiveSmallIntegerField()
    embedding = models.BinaryField(
        null=True,
        blank=True,
        help_text="float32 global embedding: the learned copy descriptor, or CLIP when configured",
    )
    # The space `embedding` belongs to (factcheck.embedding.embedding_tag); rows of another
    # space are neither indexed nor compared.
    embedding_model = models.CharField(max_length=200, blank=True)
    features_file = models.CharField(
        max_length=255, help_text="Storage name of the cached local features (npz)."
    )
    # Outbox for the indexes: False until a published index version contains this reference, so
    # an add interrupted between commit and indexing is picked up by the next index update.
    indexed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["reference"],
                condition=models.Q(indexed=False),
                name="fingerprint_unindexed",
            )
        ]

    def __str__(self) -> str:
        return f"fingerprint of reference {self.reference_id}"


class ReferenceVideo(models.Model):
    """A reference that is a video: its temporal fingerprint (frame hashes, shots, keyframes;
    factcheck.core.video_fingerprint), stored as a file. Its `Fingerprint` row describes the
    poster keyframe, so image queries find the video through the image indexes too."""

    reference = models.OneToOneField(Reference, on_delete=models.CASCADE, related_name="video")
    fingerprint_file = models.CharField(max_length=255, help_text="Storage name (npz).")
    samples_file = models.CharField(
        max_length=255,
        blank=True,
        help_text="Storage name of the sampled frames' global embeddings (npz; blank without).",
    )
    poster_file = models.CharField(
        max_length=255,
        help_text="Storage name of the poster keyframe (PNG): what its Fingerprint describes.",
    )
    duration_s = models.FloatField()
    fps = models.FloatField()
    frames = models.PositiveIntegerField(help_text="Frames hashed.")
    keyframes = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"video of reference {self.reference_id}"


class PendingIndexRemoval(models.Model):
    """Outbox for removals: written in the transaction that deletes a reference, deleted once a
    published index version no longer contains it (so a crash in between cannot leave an orphan
    index entry)."""

    reference_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"remove reference {self.reference_id} from the indexes"


# Django imports only `factcheck.models`: importing the module of case management
# (factcheck.cases) registers its models with this app. Import them from factcheck.cases.models.
import factcheck.cases.models  # noqa: E402, F401
