"""Cases: claims under review, the evidence behind them, and their history.

Cases know nothing of submissions: the link between a case and the submissions escalated into it
is moderation's (`moderation.models.CaseSubmission`, `moderation.escalation`).

Status and rating are plain strings validated against the configured workflow and scale
(factcheck.cases.workflow), so changing the configuration needs no migration.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Case(models.Model):
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=32, db_index=True)
    due_date = models.DateField(null=True, blank=True)
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="assigned_cases"
    )
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watched_cases"
    )
    # The rating is copied with its scale at rating time: a later change of the configured scale
    # must not rewrite a verdict that was already published.
    rating = models.CharField(max_length=64, blank=True, db_index=True)
    rating_value = models.IntegerField(null=True, blank=True)
    rating_best = models.IntegerField(null=True, blank=True)
    rating_worst = models.IntegerField(null=True, blank=True)
    explanation = models.TextField(blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    # The first publication (ClaimReview datePublished): kept when the case is corrected or
    # published again, which set `corrected_at` (dateModified) instead.
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    corrected_at = models.DateTimeField(null=True, blank=True)
    # The latest correction, as the public page states it.
    correction_note = models.TextField(blank=True)
    slug = models.SlugField(max_length=120, unique=True, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("escalate_case", "Can open a case from an escalated review item"),
            ("rate_case", "Can rate cases"),
            ("publish_case", "Can publish fact-checks"),
        ]

    def __str__(self) -> str:
        return f"case {self.pk}: {self.title[:60]}"


class Claim(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="claims")
    text = models.TextField()
    language = models.CharField(max_length=16, blank=True, help_text="BCP 47 tag, e.g. en.")
    claimant = models.CharField(max_length=300, blank=True)
    appearance_url = models.URLField(max_length=2000, blank=True)
    appearance_date = models.DateField(null=True, blank=True)
    # Sentence embedding for claim matching (float32, L2-normalised), filled lazily by
    # factcheck.cases.claims; empty after the text or the configured model changes.
    embedding = models.BinaryField(null=True, blank=True)
    embedding_model = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_id", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class Evidence(models.Model):
    class Kind(models.TextChoices):
        REFERENCE = "reference", "Verified original from the index"
        LINK = "link", "Link"
        MEDIA = "media", "Uploaded media"
        NOTE = "note", "Note"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Set for kind=reference, and for uploaded media once marked as a verified original. A removed
    # reference leaves the evidence in place (SET_NULL) with `reference_snapshot` to show.
    reference = models.ForeignKey(
        "factcheck.Reference",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="case_evidence",
    )
    reference_snapshot = models.JSONField(default=dict, blank=True)
    media = models.ForeignKey(
        "mediastore.MediaObject", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    url = models.URLField(max_length=2000, blank=True)
    note = models.TextField(blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="reference")
                | Q(reference__isnull=False)
                | ~Q(reference_snapshot={}),
                name="evidence_reference_has_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} evidence {self.pk} of case {self.case_id}"


class Comment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on case {self.case_id}"


class TimelineEntry(models.Model):
    """One change to a case, written in the transaction of the change (append-only)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="timeline")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=32)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"
