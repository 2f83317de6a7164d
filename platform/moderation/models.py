"""Submissions, their report versions and artifacts, the review queue, decisions, events and
the links of submissions to fact-checking cases."""

from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT

from config.querysets import TouchingManager
from factcheck.cases.models import Case
from moderation.report_document import FIRST_MATCH_REFERENCE_ID_PATH


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
    platform = models.CharField(
        max_length=100, blank=True, help_text="Where the content appeared, e.g. the SNS name."
    )
    metadata = models.JSONField(
        default=dict, blank=True, help_text="Author, reach and other context sent with it."
    )
    idempotency_key = models.CharField(max_length=200, blank=True)
    # SHA-256 of everything the request asked for (moderation.services.request_fingerprint).
    idempotency_fingerprint = models.CharField(max_length=64, blank=True)
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("review_submission", "Can claim submissions and decide on them")]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            # A retried POST with the same Idempotency-Key (per caller: a person or the service
            # user of an API client) returns the first submission.
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key="") & Q(created_by__isnull=False),
                name="submission_idempotency_key_unique",
            )
        ]

    def __str__(self) -> str:
        return f"submission {self.pk} ({self.status})"


class Report(models.Model):
    """One version of the report/1 document of a submission; earlier versions are kept."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="reports")
    version = models.PositiveIntegerField()
    is_current = models.BooleanField(default=True)
    document = models.JSONField(help_text='The report/1 document (DESIGN.md, "Report JSON").')
    label = models.CharField(max_length=32, db_index=True)
    manipulation_probability = models.FloatField()
    reason = models.CharField(
        max_length=200, blank=True, help_text="Why this version was made, e.g. a new reference."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submission_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "version"], name="report_version_unique"),
            models.UniqueConstraint(
                fields=["submission"],
                condition=Q(is_current=True),
                name="report_one_current_per_submission",
            ),
        ]
        indexes = [
            # The review queue's groups look current reports up by their first match's original.
            models.Index(
                KT(FIRST_MATCH_REFERENCE_ID_PATH),
                condition=Q(is_current=True),
                name="report_first_reference_idx",
            )
        ]

    def __str__(self) -> str:
        return f"report v{self.version} of submission {self.submission_id} ({self.label})"


class ArtifactFileType(NamedTuple):
    extension: str
    content_type: str


PNG_ARTIFACT = ArtifactFileType("png", "image/png")
MP4_ARTIFACT = ArtifactFileType("mp4", "video/mp4")


def artifact_file_type(kind: str) -> ArtifactFileType:
    """How an artifact kind is stored and served: the annotated video as MP4, the rest as PNG."""
    return MP4_ARTIFACT if kind == ReportArtifact.Kind.ANNOTATED else PNG_ARTIFACT


class ReportArtifact(models.Model):
    """A picture made for a report version (masks, overlays, the aligned original; for videos
    the annotated video and the contact sheet of changed spans)."""

    class Kind(models.TextChoices):
        EDIT_MASK = "edit_mask", "Edit mask"
        EDIT_OVERLAY = "edit_overlay", "Edit overlay"
        FORENSIC_MAP = "forensic_map", "Forensic map"
        FORENSIC_OVERLAY = "forensic_overlay", "Forensic heatmap overlay"
        FACES_OVERLAY = "faces_overlay", "Face boxes overlay"
        ALIGNED_REFERENCE = "aligned_reference", "Original aligned to the query"
        ANNOTATED = "annotated", "Annotated video"
        CONTACT_SHEET = "contact_sheet", "Contact sheet of changed spans"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    file = models.FileField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "kind"], name="report_artifact_kind_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} of report {self.report_id}"


class ReviewItem(models.Model):
    """A submission in the moderators' queue; claimed by lease, decided once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Claimed"
        DECIDED = "decided", "Decided"

    submission = models.OneToOneField(
        Submission, on_delete=models.CASCADE, related_name="review_item"
    )
    priority = models.IntegerField(default=0, help_text="Higher is reviewed first.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TouchingManager()

    class Meta:
        ordering = ["-priority", "created_at", "id"]
        indexes = [models.Index(fields=["status", "-priority", "created_at"])]

    def __str__(self) -> str:
        return f"review item {self.pk} ({self.status}, priority {self.priority})"


class Decision(models.Model):
    """A moderator's decision on a review item; every one is kept and audited."""

    class Action(models.TextChoices):
        ALLOW = "allow", "Allow"
        LABEL = "label", "Label"
        REMOVE = "remove", "Remove"
        ESCALATE = "escalate", "Escalate to a fact-check case"

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="decisions")
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    label = models.CharField(max_length=100, blank=True)
    rationale = models.TextField(blank=True)
    report = models.ForeignKey(
        Report,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The report version the moderator saw.",
    )
    # What the item was before this decision (claimed by the moderator, or waiting when a group
    # decision took it from the queue): an undo puts it back so.
    status_before = models.CharField(max_length=16, blank=True)
    undone_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the moderator undid the decision."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} on item {self.item_id}"


class Event(models.Model):
    """Outbox: an event written in the same transaction as the change it announces."""

    type = models.CharField(max_length=64)
    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="events", null=True, blank=True
    )
    client = models.ForeignKey(
        "accounts.ApiClient",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class NearMissJudgement(models.Model):
    """A reviewer's judgement of a near miss (a candidate original that verification rejected,
    report/1 `near_misses`): "this is the original" or "not the original". One per submission
    and reference; judging again replaces it (the audit log keeps every judgement)."""

    class Judgement(models.TextChoices):
        CONFIRMED = "confirmed", "This is the original"
        DISMISSED = "dismissed", "Not the original"

    submission = models.ForeignKey(
        Submission, on_delete=models.CASCADE, related_name="near_miss_judgements"
    )
    # An id, not a foreign key: the judgement outlives a reference removed from the index, and
    # the snapshot below still says which one it was.
    reference_id = models.PositiveBigIntegerField()
    external_id = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=200, blank=True)
    report_version = models.PositiveIntegerField(
        help_text="The newest report version listing the reference as a near miss."
    )
    judgement = models.CharField(max_length=16, choices=Judgement.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["submission_id", "reference_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "reference_id"], name="near_miss_judgement_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.judgement} reference {self.reference_id} for submission {self.submission_id}"


class CaseSubmission(models.Model):
    """A submission escalated into (or attached to) a fact-checking case, with the report
    version that was current then. Moderation owns the link: cases know nothing of submissions
    (moderation.escalation writes it, the case pages read it from there)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_submissions")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="case_links")
    # The report the person saw is kept even when analysis later produces a new version.
    report = models.ForeignKey(
        Report, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "submission"], name="moderation_case_submission_unique"
            )
        ]

    def __str__(self) -> str:
        return f"submission {self.submission_id} in case {self.case_id}"


class ReviewerSettings(models.Model):
    """A reviewer's own workflow choices (moderation.review.reviewer_settings reads them with
    their defaults; a user without a row has the defaults)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviewer_settings"
    )
    advance_after_decision = models.BooleanField(
        default=True, help_text="After a decision, open the next item in the queue."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"review settings of user {self.user_id}"


class SavedQueueFilter(models.Model):
    """A named queue search of one reviewer: the query string of the queue page it opens."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queue_filters"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_queue_filter_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"
