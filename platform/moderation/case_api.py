"""/api/v1/cases/: the cases API of factcheck.cases with what moderation adds to it.

Cases know nothing of submissions, so moderation mounts the cases API through this subclass: each
case carries its linked submissions (`submissions`), and POST /api/v1/cases/ with `submission`
escalates that submission (moderation.escalation) instead of opening a case by hand.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from accounts.authentication import signed_in_user
from factcheck.cases import api as cases_api
from factcheck.cases import serializers as cases_serializers
from factcheck.cases.models import Case
from moderation.escalation import submission_escalate
from moderation.models import CaseSubmission, Submission


class CaseSubmissionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseSubmission
        fields = ["submission", "report", "note", "created_at"]


def _with_submissions(fields: list[str]) -> list[str]:
    """The case's fields with "submissions" after "claims", where clients have always seen it."""
    at = fields.index("claims") + 1
    return [*fields[:at], "submissions", *fields[at:]]


class CaseSerializer(cases_serializers.CaseSerializer):
    submissions = CaseSubmissionSerializer(source="case_submissions", many=True, read_only=True)

    class Meta(cases_serializers.CaseSerializer.Meta):
        fields = _with_submissions(cases_serializers.CaseSerializer.Meta.fields)


class CaseDetailSerializer(CaseSerializer):
    evidence = cases_serializers.EvidenceSerializer(many=True, read_only=True)
    timeline = cases_serializers.TimelineEntrySerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = _with_submissions(cases_serializers.CaseDetailSerializer.Meta.fields)


class CaseCreateSerializer(cases_serializers.CaseCreateSerializer):
    submission = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Escalate this submission: it is attached with its current report.",
    )
    rationale = serializers.CharField(required=False, default="", allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["submission"] is None and not attrs["title"].strip():
            raise serializers.ValidationError({"title": ["a title or a submission is required"]})
        return attrs


@extend_schema_view(
    create=extend_schema(request=CaseCreateSerializer, responses={201: CaseDetailSerializer}),
    transition=extend_schema(responses=CaseSerializer),
    rate=extend_schema(responses=CaseSerializer),
    publish=extend_schema(responses=CaseSerializer),
    assign=extend_schema(responses=CaseSerializer),
)
class CaseViewSet(cases_api.CaseViewSet):
    case_serializer = CaseSerializer
    case_detail_serializer = CaseDetailSerializer
    case_create_serializer = CaseCreateSerializer
    case_prefetch = (*cases_api.CaseViewSet.case_prefetch, "case_submissions")

    def case_open(self, data: dict[str, Any], request: Request) -> Case:
        if data["submission"] is None:
            return super().case_open(data, request)
        submission = Submission.objects.filter(pk=data["submission"]).first()
        if submission is None:
            raise ValidationError({"submission": [f"no submission {data['submission']}"]})
        return submission_escalate(
            submission=submission, actor=signed_in_user(request), rationale=data["rationale"]
        )
