"""API shapes of cases (reads) and of the inputs of each case action (validation only)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import User
from factcheck.cases.models import Case, Claim, Comment, Evidence, TimelineEntry
from factcheck.cases.selectors import case_link
from factcheck.cases.services import (
    MAX_CLAIM_LENGTH,
    MAX_CLAIMANT_LENGTH,
    MAX_COMMENT_LENGTH,
    MAX_EXPLANATION_LENGTH,
    MAX_LANGUAGE_LENGTH,
    MAX_TITLE_LENGTH,
)
from factcheck.serializers import HttpUrlField
from mediastore.images import MAX_UPLOAD_BYTES


class ClaimSerializer(serializers.ModelSerializer):
    class Meta:
        model = Claim
        fields = ["id", "text", "language", "claimant", "appearance_url", "appearance_date"]
        read_only_fields = ["id"]


class ClaimInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_CLAIM_LENGTH)
    language = serializers.CharField(
        max_length=MAX_LANGUAGE_LENGTH, required=False, default="", allow_blank=True
    )
    claimant = serializers.CharField(
        max_length=MAX_CLAIMANT_LENGTH, required=False, default="", allow_blank=True
    )
    appearance_url = HttpUrlField()
    appearance_date = serializers.DateField(required=False, allow_null=True, default=None)


class EvidenceSerializer(serializers.ModelSerializer):
    media_sha256 = serializers.CharField(
        source="media.sha256", read_only=True, default=None, allow_null=True
    )
    added_by = serializers.CharField(source="added_by.username", read_only=True, default=None)

    class Meta:
        model = Evidence
        fields = [
            "id",
            "kind",
            "reference",
            "reference_snapshot",
            "media_sha256",
            "url",
            "note",
            "added_by",
            "created_at",
        ]


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "created_at"]


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)

    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "actor", "data", "created_at"]


class CaseSerializer(serializers.ModelSerializer):
    claims = ClaimSerializer(many=True, read_only=True)
    assignees: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True
    )
    watchers: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "title",
            "status",
            "due_date",
            "assignees",
            "watchers",
            "rating",
            "rating_value",
            "rating_best",
            "rating_worst",
            "explanation",
            "rated_at",
            "published_at",
            "slug",
            "claims",
            "links",
            "created_at",
            "updated_at",
        ]

    def get_links(self, case: Case) -> dict[str, Any]:
        link = case_link(case)
        return {"public": link["url"], "claimreview": link["claimreview_url"]}


class CaseDetailSerializer(CaseSerializer):
    evidence = EvidenceSerializer(many=True, read_only=True)
    timeline = TimelineEntrySerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "evidence", "timeline"]


class CaseCreateSerializer(serializers.Serializer):
    # Not required here: moderation's API (moderation.case_api) also opens a case from a
    # submission, which brings its own title.
    title = serializers.CharField(max_length=MAX_TITLE_LENGTH, required=False, default="")
    claims = ClaimInputSerializer(many=True, required=False, default=list)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["title"].strip():
            raise serializers.ValidationError({"title": ["a title is required"]})
        return attrs


class TransitionSerializer(serializers.Serializer):
    status = serializers.CharField(max_length=32)
    expected_status = serializers.CharField(
        max_length=32,
        required=False,
        default="",
        help_text="The status the caller saw; the move fails with 409 if the case has moved since.",
    )


class RateSerializer(serializers.Serializer):
    rating = serializers.CharField(max_length=64)
    explanation = serializers.CharField(max_length=MAX_EXPLANATION_LENGTH)


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_COMMENT_LENGTH)


class AssignSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=["assignee", "watcher"], default="assignee")
    remove = serializers.BooleanField(default=False)


class EvidenceInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Evidence.Kind.values)
    reference = serializers.IntegerField(required=False, allow_null=True, default=None)
    url = HttpUrlField()
    media = serializers.FileField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, default="", allow_blank=True)

    def validate_media(self, upload: Any) -> Any:
        if upload is not None and upload.size > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
        return upload


class VerifiedOriginalSerializer(serializers.Serializer):
    # The payload field is "source"; DRF's serializer metaclass pops declared fields off the
    # class, so this never shadows Field.source at runtime (the stubs cannot see that).
    source = serializers.CharField(max_length=200)  # type: ignore[assignment]
    credit = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    licence = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    url = HttpUrlField()
    caption = serializers.CharField(required=False, default="", allow_blank=True)
    published_at = serializers.DateField(required=False, allow_null=True, default=None)


class RelatedQuerySerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)
    k = serializers.IntegerField(min_value=1, max_value=20, default=3)
    published_only = serializers.BooleanField(default=False)
