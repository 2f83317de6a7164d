"""REST API for cases: /api/v1/cases/ and the public-facing ClaimReview document.

Thin: each action validates its input with a serializer and calls one service; the services
check roles, so the API and the pages enforce the same rules. Their refusals (CaseError 400,
CaseConflict 409, CasePermissionDenied 403, ImageRejected 400) are answered by config.drf.

Cases know nothing of submissions: /api/v1/cases/ is mounted by moderation
(moderation.case_api), whose subclass of `CaseViewSet` adds each case's linked submissions and
opening a case by escalating a submission. The serializer attributes below are what it swaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import signed_in_user
from accounts.models import User
from factcheck.cases import curation, services
from factcheck.cases.claimreview import claimreview_jsonld
from factcheck.cases.models import Case, Evidence
from factcheck.cases.selectors import case_list, published_cases, related_factchecks
from factcheck.cases.serializers import (
    AssignSerializer,
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseSerializer,
    ClaimInputSerializer,
    ClaimSerializer,
    CommentInputSerializer,
    CommentSerializer,
    EvidenceInputSerializer,
    EvidenceSerializer,
    RateSerializer,
    RelatedQuerySerializer,
    TransitionSerializer,
    VerifiedOriginalSerializer,
)
from factcheck.models import Reference


class CanViewCases(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm(services.PERM_VIEW))


LIST_FILTERS = [
    OpenApiParameter("status", str),
    OpenApiParameter("assignee", str, description="Username."),
    OpenApiParameter("rating", str),
    OpenApiParameter("created_from", str, description="YYYY-MM-DD"),
    OpenApiParameter("created_to", str, description="YYYY-MM-DD"),
    OpenApiParameter("q", str, description="Search titles, claims and claimants."),
]


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated, CanViewCases]
    # A case in answers (list and actions), in full (retrieve, create), and the create input.
    case_serializer: type[CaseSerializer] = CaseSerializer
    case_detail_serializer: type[CaseSerializer] = CaseDetailSerializer
    case_create_serializer: type[CaseCreateSerializer] = CaseCreateSerializer
    # Related rows every answer shows, loaded with one query each.
    case_prefetch: tuple[str, ...] = ("claims", "assignees", "watchers")

    def get_serializer_class(self) -> type:
        return self.case_detail_serializer if self.action == "retrieve" else self.case_serializer

    def get_queryset(self) -> QuerySet[Case]:
        if self.action != "list":
            return Case.objects.prefetch_related(*self.case_prefetch)
        params = self.request.query_params
        assignee = None
        if params.get("assignee"):
            assignee = User.objects.filter(username=params["assignee"]).first() or -1
        try:
            cases = case_list(
                status=params.get("status", ""),
                assignee=assignee,
                rating=params.get("rating", ""),
                created_from=_date(params.get("created_from")),
                created_to=_date(params.get("created_to")),
                search=params.get("q", ""),
            )
        except ValueError as error:
            raise ValidationError({"date": [str(error)]}) from error
        return cases.prefetch_related(*self.case_prefetch)

    @extend_schema(parameters=LIST_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=CaseCreateSerializer, responses={201: CaseDetailSerializer})
    def create(self, request: Request) -> Response:
        case = self.case_open(_valid(self.case_create_serializer, request), request)
        return Response(self.case_detail_serializer(case).data, status=status.HTTP_201_CREATED)

    def case_open(self, data: dict[str, Any], request: Request) -> Case:
        """The case the validated create input asks for: here, a case opened by hand."""
        claims = [services.ClaimInput(**claim) for claim in data["claims"]]
        return services.case_create(
            title=data["title"],
            actor=signed_in_user(request),
            claims=claims,
            due_date=data["due_date"],
        )

    @extend_schema(request=TransitionSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        data, case = _valid(TransitionSerializer, request), self.get_object()
        if data["expected_status"]:
            case.status = data["expected_status"]  # compare against what the caller saw
        services.case_transition(case=case, actor=signed_in_user(request), to_status=data["status"])
        return Response(self.case_serializer(case).data)

    @extend_schema(request=RateSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def rate(self, request: Request, pk: str) -> Response:
        data, case = _valid(RateSerializer, request), self.get_object()
        services.case_rate(case=case, actor=signed_in_user(request), **data)
        return Response(self.case_serializer(case).data)

    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        services.case_publish(case=case, actor=signed_in_user(request))
        return Response(self.case_serializer(case).data)

    @extend_schema(request=ClaimInputSerializer, responses={201: ClaimSerializer})
    @action(detail=True, methods=["post"])
    def claims(self, request: Request, pk: str) -> Response:
        data, case = _valid(ClaimInputSerializer, request), self.get_object()
        claim = services.claim_add(
            case=case, actor=signed_in_user(request), claim=services.ClaimInput(**data)
        )
        return Response(ClaimSerializer(claim).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AssignSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        data, case = _valid(AssignSerializer, request), self.get_object()
        user = User.objects.filter(username=data["username"], is_active=True).first()
        if user is None:
            raise ValidationError({"username": [f"no active user {data['username']!r}"]})
        services.case_assign(
            case=case,
            actor=signed_in_user(request),
            user=user,
            role=data["role"],
            remove=data["remove"],
        )
        return Response(self.case_serializer(case).data)

    @extend_schema(
        methods=["post"], request=CommentInputSerializer, responses={201: CommentSerializer}
    )
    @extend_schema(methods=["get"], responses=CommentSerializer(many=True))
    # Not paginated: the schema must not say so (pagination_class=None tells drf-spectacular).
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def comments(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        if request.method == "GET":
            return Response(
                CommentSerializer(case.comments.select_related("author"), many=True).data
            )
        data = _valid(CommentInputSerializer, request)
        comment = services.comment_add(case=case, actor=signed_in_user(request), body=data["body"])
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["post"], request=EvidenceInputSerializer, responses={201: EvidenceSerializer}
    )
    @extend_schema(methods=["get"], responses=EvidenceSerializer(many=True))
    # Not paginated: the schema must not say so (pagination_class=None tells drf-spectacular).
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def evidence(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        if request.method == "GET":
            return Response(
                EvidenceSerializer(case.evidence.select_related("media"), many=True).data
            )
        data = _valid(EvidenceInputSerializer, request)
        reference = None
        if data["reference"] is not None:
            reference = Reference.objects.filter(pk=data["reference"]).first()
            if reference is None:
                raise ValidationError({"reference": [f"no reference {data['reference']}"]})
        content = data["media"].read() if data["media"] is not None else None
        evidence = curation.evidence_add(
            case=case,
            actor=signed_in_user(request),
            kind=data["kind"],
            reference=reference,
            url=data["url"],
            content=content,
            note=data["note"],
        )
        return Response(EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VerifiedOriginalSerializer, responses=EvidenceSerializer)
    @action(detail=True, methods=["post"], url_path=r"evidence/(?P<evidence_id>\d+)/verify")
    def verify_evidence(self, request: Request, pk: str, evidence_id: str) -> Response:
        """Mark uploaded evidence media as a verified original (adds it to the index)."""
        case = self.get_object()
        evidence = get_object_or_404(Evidence, pk=evidence_id, case=case)
        data = _valid(VerifiedOriginalSerializer, request)
        curation.evidence_mark_verified_original(
            evidence=evidence, actor=signed_in_user(request), **data
        )
        return Response(EvidenceSerializer(evidence).data)

    def get_permissions(self) -> Sequence[Any]:
        if self.action == "claimreview":
            # The JSON-LD of a published fact-check is public, like its page.
            return [permissions.AllowAny()]
        return super().get_permissions()

    @extend_schema(
        summary="ClaimReview JSON-LD of a published case (public, no sign-in)",
        responses={200: {"type": "object", "description": "schema.org ClaimReview JSON-LD"}},
    )
    @action(detail=True, methods=["get"], url_name="claimreview")
    def claimreview(self, request: Request, pk: str) -> Response:
        """Published cases only; any other (or an unknown id) answers 404 `not_found`, to
        everyone alike, so the answer never tells whether an unpublished case exists."""
        case = generics.get_object_or_404(published_cases(), pk=pk)
        document = claimreview_jsonld(case, base_url=request.build_absolute_uri("/"))
        return Response(document, content_type="application/ld+json")

    @extend_schema(
        parameters=[RelatedQuerySerializer],
        responses={200: {"type": "array", "items": {"type": "object"}}},
    )
    @action(detail=False, methods=["get"])
    def related(self, request: Request) -> Response:
        """Cases and fact-checks whose claims mean the same as `text`, best first."""
        query = RelatedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(related_factchecks(**query.validated_data))


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _date(value: str | None) -> Any:
    import datetime

    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
