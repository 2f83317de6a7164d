"""REST API for verified originals: /api/v1/references/."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import signed_in_user
from factcheck.models import Reference
from factcheck.serializers import HttpUrlField
from factcheck.services import reference_add, reference_remove
from mediastore.images import MAX_UPLOAD_BYTES, ImageRejected


class ModelPermissionsWithView(permissions.DjangoModelPermissions):
    """Django model permissions, reads included (`view_<model>`)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class MediaSummarySerializer(serializers.Serializer):
    sha256 = serializers.CharField()
    mime = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size = serializers.IntegerField()


class ReferenceSerializer(serializers.ModelSerializer):
    media = MediaSummarySerializer(read_only=True)

    class Meta:
        model = Reference
        fields = [
            "id", "source", "external_id", "url", "caption", "credit", "licence",
            "published_at", "created_at", "media",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "media"]


class ReferenceUploadSerializer(serializers.Serializer):
    media = serializers.FileField(help_text="The original image (JPEG, PNG, WebP).")
    # The payload field is "source"; DRF's serializer metaclass pops declared fields off the
    # class, so this never shadows Field.source at runtime (the stubs cannot see that).
    source = serializers.CharField(max_length=200)  # type: ignore[assignment]
    external_id = serializers.CharField(max_length=200, required=False, default="")
    url = HttpUrlField()
    caption = serializers.CharField(required=False, default="", allow_blank=True)
    credit = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    licence = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    published_at = serializers.DateField(required=False, allow_null=True, default=None)

    def validate_media(self, upload: Any) -> Any:
        if upload.size > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
        return upload


class ReferenceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ReferenceSerializer
    permission_classes = [permissions.IsAuthenticated, ModelPermissionsWithView]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Reference]:
        queryset = Reference.objects.select_related("media")
        external_id = self.request.query_params.get("external_id")
        if external_id:
            queryset = queryset.filter(external_id=external_id)
        return queryset

    @extend_schema(request=ReferenceUploadSerializer, responses={201: ReferenceSerializer})
    def create(self, request: Request) -> Response:
        upload = ReferenceUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        fields = dict(upload.validated_data)
        content = fields.pop("media").read()
        try:
            result = reference_add(content=content, actor=signed_in_user(request), **fields)
        except ImageRejected as error:
            return Response(
                {"media": [str(error)], "code": error.code}, status=status.HTTP_400_BAD_REQUEST
            )
        body = ReferenceSerializer(result.reference).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else 200)

    def perform_destroy(self, instance: Reference) -> None:
        reference_remove(reference=instance, actor=signed_in_user(self.request))
