"""REST API for submissions: /api/v1/submissions/ (create, list, status, report, artifacts, retry).

An API client sees and acts on its own submissions only (others answer 404, as if absent);
staff with `moderation.view_submission` see every submission.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import signed_in_user
from accounts.models import ApiClient
from accounts.selectors import user_has_model_permission
from config.drf import StrictJSONField
from mediastore.services import media_max_bytes
from mediastore.serving import media_file_response, stored_name
from moderation.analysis import report_url
from moderation.models import (
    PNG_ARTIFACT,
    Report,
    ReportArtifact,
    Submission,
    artifact_file_type,
)
from moderation.selectors import (
    api_client_of,
    report_artifact,
    report_get,
    report_versions,
    submissions_visible_to,
)
from moderation.services import (
    MAX_EXTERNAL_ID_LENGTH,
    MAX_PLATFORM_LENGTH,
    MAX_TEXT_LENGTH,
    submission_create_or_replay,
    submission_retry,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRY_PERMISSIONS = ("moderation.review_submission", "moderation.change_submission")
# The multipart envelope and the text fields around the file: a body larger than the file limit
# plus this is refused from its Content-Length, before a byte of it is parsed.
MAX_UPLOAD_ENVELOPE_BYTES = 256 * 1024


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "the file is too large"


def _artifact_url(submission_id: int, kind: str) -> str:
    if kind == ReportArtifact.Kind.ANNOTATED:
        return reverse("submission-annotated-video", kwargs={"pk": submission_id})
    return reverse("submission-artifact", kwargs={"pk": submission_id, "kind": kind})


class SubmissionPermissions(permissions.BasePermission):
    """add_submission to create; view_submission for everything else (rows are then filtered)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if getattr(view, "action", None) == "retry":  # checked per object in the view
            return True
        codename = "add_submission" if request.method == "POST" else "view_submission"
        return user_has_model_permission(user, f"moderation.{codename}")


class SubmissionMediaSerializer(serializers.Serializer):
    sha256 = serializers.CharField()
    mime = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size = serializers.IntegerField()


class ReportSummarySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    # The payload field is "label"; DRF's serializer metaclass pops declared fields off the
    # class, so this never shadows Field.label at runtime (the stubs cannot see that).
    label = serializers.CharField()  # type: ignore[assignment]
    manipulation_probability = serializers.FloatField()
    created_at = serializers.DateTimeField()


class SubmissionSerializer(serializers.ModelSerializer):
    media = SubmissionMediaSerializer(read_only=True)
    client: serializers.SlugRelatedField[ApiClient] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    report = serializers.SerializerMethodField()
    report_url = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id", "status", "source", "client", "external_id", "platform", "text", "metadata",
            "created_at", "updated_at", "attempts", "failure_reason", "media", "report",
            "report_url",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(ReportSummarySerializer(allow_null=True))
    def get_report(self, submission: Submission) -> dict[str, Any] | None:
        current = getattr(submission, "current_reports", None)
        if current is None:
            current = list(Report.objects.filter(submission=submission, is_current=True))
        return ReportSummarySerializer(current[0]).data if current else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_report_url(self, submission: Submission) -> str:
        return report_url(submission.pk)


class SubmissionUploadSerializer(serializers.Serializer):
    media = serializers.FileField(help_text="The image (JPEG, PNG, WebP, GIF first frame).")
    text = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=MAX_TEXT_LENGTH
    )
    external_id = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=MAX_EXTERNAL_ID_LENGTH
    )
    platform = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=MAX_PLATFORM_LENGTH
    )
    metadata = StrictJSONField(
        required=False, default=dict, help_text='JSON object, e.g. {"reach": 1200}.'
    )

    def validate_media(self, upload: Any) -> Any:
        limit = media_max_bytes(allow_video=True)
        if upload.size > limit:
            raise UploadTooLarge(f"the file is {upload.size} bytes; the limit is {limit}")
        return upload

    def validate_metadata(self, value: Any) -> dict[str, Any]:
        """Parsed strictly (no NUL, NaN, huge numbers or deep nesting); the content rules are
        moderation.metadata's, applied by the service for every intake."""
        if not isinstance(value, dict):
            raise serializers.ValidationError("metadata must be a JSON object", code="invalid")
        return value


class SubmissionAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField()
    report_url = serializers.CharField()


class PngRenderer(BaseRenderer):
    """Passes PNG bytes through; error bodies (dicts) are written as JSON text."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        if isinstance(data, bytes | bytearray):
            return data
        return json.dumps(data).encode()


class Mp4Renderer(PngRenderer):
    """Passes MP4 bytes through (the annotated video); error bodies are written as JSON text."""

    media_type = "video/mp4"
    format = "mp4"


def _version_param(request: Request) -> int | None:
    raw = request.query_params.get("version")
    if raw in (None, ""):
        return None
    try:
        version = int(raw)
    except ValueError:
        raise ValidationError({"version": "must be a positive integer"}) from None
    if version < 1:
        raise ValidationError({"version": "must be a positive integer"})
    return version


VERSION_PARAMETER = OpenApiParameter(
    "version", int, description="A report version (default: the current one)."
)


class SubmissionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = SubmissionSerializer
    permission_classes = [permissions.IsAuthenticated, SubmissionPermissions]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Submission]:
        queryset = submissions_visible_to(self.request.user).prefetch_related(
            Prefetch(
                "reports",
                queryset=Report.objects.filter(is_current=True).defer("document"),
                to_attr="current_reports",
            )
        )
        external_id = self.request.query_params.get("external_id")
        if external_id:
            queryset = queryset.filter(external_id=external_id)
        return queryset

    @extend_schema(
        request={"multipart/form-data": SubmissionUploadSerializer},
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="Retrying with the same key returns the first submission.",
            )
        ],
        responses={
            202: SubmissionAcceptedSerializer,
            400: OpenApiResponse(
                description="Not an acceptable image or video (`code` says why), or bad fields."
            ),
            409: OpenApiResponse(
                description="Idempotency-Key already used for a different request."
            ),
            413: OpenApiResponse(description="The file is too large."),
        },
    )
    def create(self, request: Request) -> Response:
        declared = request.META.get("CONTENT_LENGTH") or ""
        limit = media_max_bytes(allow_video=True)
        if declared.isdigit() and int(declared) > limit + MAX_UPLOAD_ENVELOPE_BYTES:
            raise UploadTooLarge(f"the request is {declared} bytes; the file limit is {limit}")
        upload = SubmissionUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        fields = dict(upload.validated_data)
        content = fields.pop("media").read()
        user = signed_in_user(request)
        client = api_client_of(user)
        # Refusals (ImageRejected, VideoRejected, SubmissionError) are answered by config.drf.
        result = submission_create_or_replay(
            content=content,
            source=Submission.Source.API,
            client=client,
            created_by=None if client is not None else user,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, "").strip(),
            **fields,
        )
        submission = result.submission
        url = request.build_absolute_uri(reverse("submission-detail", kwargs={"pk": submission.pk}))
        body = {
            "id": submission.pk,
            "status": submission.status,
            "url": url,
            "report_url": request.build_absolute_uri(report_url(submission.pk)),
        }
        headers = {"Location": url}
        if not result.created:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)

    def _report(self, submission: Submission, version: int | None) -> Report:
        report = report_get(submission, version=version)
        if report is not None:
            return report
        if version is not None:
            known = ", ".join(str(v) for v in report_versions(submission)) or "none yet"
            raise NotFound(f"report version {version} does not exist (versions: {known})")
        raise NotFound(f"no report yet (status: {submission.status})")

    @extend_schema(
        parameters=[VERSION_PARAMETER],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The report/1 document (DESIGN.md; keys added since in "
                "platform/moderation/README.md), plus `report_version`, `is_current` and "
                "`artifacts` (URLs by kind). Each `detection.faces` item of an image has `bbox`, "
                "`manipulation_probability`, `confidence` (the face finder's) and `landmarks` "
                "(5 [x, y] points: eyes, nose tip, mouth corners; null without). "
                "A video's report also has `media` (`kind`: "
                '"video", `duration_s`, `fps`, `width`, `height`, `frames_analysed`), '
                "`timeline` (per sampled time: `time_s`, `manipulation_probability`, `faces`), "
                "and on each match `offset_s`, `speed`, `aligned_frames` and `segments` "
                "(`start_s`, `end_s`, `ref_start_s`, `ref_end_s` in query and original seconds, "
                "`edited`, `regions`); an image matched to a frame of a reference video has "
                "`frame_time_s`. Its artifacts include `annotated` (artifacts/annotated.mp4) "
                "and `contact_sheet`. An image's report has `text_in_image` (`text`, `lines`: "
                "`text`, `bbox` [x, y, w, h], `confidence`), and each `related_fact_checks` "
                'item says what its claim was found from in `matched_on` ("caption" or '
                '"text_in_image").',
            ),
            404: OpenApiResponse(description="No such submission or report version."),
            409: OpenApiResponse(description="Not analysed yet, or the analysis failed."),
        },
    )
    @action(detail=True, methods=["get"])
    def report(self, request: Request, pk: str | None = None) -> Response:
        submission = self.get_object()
        version = _version_param(request)
        if (
            version is None
            and submission.status != Submission.Status.ANALYZED
            and not Report.objects.filter(submission=submission).exists()
        ):
            return _not_ready(submission)
        report = self._report(submission, version)
        artifacts = {
            kind: request.build_absolute_uri(
                _artifact_url(submission.pk, kind) + f"?version={report.version}"
            )
            for kind in report.artifacts.values_list("kind", flat=True)
        }
        body = {
            **report.document,
            "report_version": report.version,
            "is_current": report.is_current,
            "artifacts": artifacts,
        }
        return Response(body, headers={"Cache-Control": "private, no-cache"})

    @extend_schema(
        operation_id="v1_submissions_artifact_retrieve",
        parameters=[VERSION_PARAMETER],
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The PNG."),
            404: OpenApiResponse(description="No such submission, report or artifact."),
        },
    )
    # Routed in api_urls (the router would add a slash after ".png").
    def artifact(self, request: Request, pk: str | None = None, kind: str = "") -> Any:
        if kind not in ReportArtifact.Kind.values or artifact_file_type(kind) != PNG_ARTIFACT:
            pictures = [
                k for k in ReportArtifact.Kind.values if artifact_file_type(k) == PNG_ARTIFACT
            ]
            raise NotFound(f"unknown artifact {kind!r} (pictures: {', '.join(pictures)})")
        return self._artifact_response(request, kind)

    @extend_schema(
        operation_id="v1_submissions_annotated_video_retrieve",
        parameters=[VERSION_PARAMETER],
        responses={
            (200, "video/mp4"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The annotated video of a video submission (H.264 MP4): edit "
                "regions, face boxes with their scores, the verdict and a timeline burnt in. "
                "Byte ranges (Range) are served for players.",
            ),
            404: OpenApiResponse(description="No such submission or report, or not a video."),
        },
    )
    # Routed in api_urls as artifacts/annotated.mp4.
    def annotated_video(self, request: Request, pk: str | None = None) -> Any:
        return self._artifact_response(request, ReportArtifact.Kind.ANNOTATED)

    def _artifact_response(self, request: Request, kind: str) -> Any:
        submission = self.get_object()
        report = self._report(submission, _version_param(request))
        artifact = report_artifact(report, kind=kind)
        if artifact is None:
            raise NotFound(f"report version {report.version} has no {kind} artifact")
        # nosniff, a sandboxing CSP, a fixed safe file name and byte ranges (mediastore.serving).
        return media_file_response(
            file_name=stored_name(artifact.file),
            content_type=artifact_file_type(kind).content_type,
            stem=f"{submission.pk}-{kind}",
            range_header=request.headers.get("Range", ""),
        )

    @extend_schema(
        request=None,
        responses={
            202: SubmissionSerializer,
            409: OpenApiResponse(description="Only a failed analysis can be retried."),
        },
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        submission = self.get_object()
        user = signed_in_user(request)
        is_owner = submission.client_id is not None and submission.client == api_client_of(user)
        if not is_owner and not any(user.has_perm(p) for p in RETRY_PERMISSIONS):
            raise PermissionDenied("you may not retry this submission")
        submission = submission_retry(submission=submission, actor=user)  # 409: config.drf
        return Response(
            SubmissionSerializer(submission, context=self.get_serializer_context()).data,
            status=status.HTTP_202_ACCEPTED,
        )


def _not_ready(submission: Submission) -> Response:
    if submission.status == Submission.Status.FAILED:
        detail = (
            f"the analysis failed: {submission.failure_reason or 'no reason recorded'}; "
            f"POST /api/v1/submissions/{submission.pk}/retry/ to try again"
        )
    else:
        detail = (
            f"the submission is {submission.status}; the report is ready once its status "
            "is analyzed"
        )
    return Response(
        {"detail": detail, "status": submission.status}, status=status.HTTP_409_CONFLICT
    )
