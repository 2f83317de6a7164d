from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import signed_in_user
from accounts.selectors import identity_of


class IdentitySerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    client = serializers.CharField(allow_null=True, help_text="API client slug for token callers.")


class MeView(APIView):
    """Who the caller is: lets an integrator check a token, and the UI the signed-in user."""

    @extend_schema(responses=IdentitySerializer)
    def get(self, request: Request) -> Response:
        return Response(IdentitySerializer(identity_of(signed_in_user(request))).data)
