"""``keys``: the tenant's signing keys, public parts only (RFC 7517), and rotation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from identity.api import serializers
from identity.api.errors import Conflict
from identity.api.views.base import TenantViewSet
from identity.models import SigningKey
from identity.services import keys as service
from identity.signing import KeyLimitReached


class KeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    resource = "applicationmgt"
    lookup_field = "kid"
    lookup_value_regex = "[^/]+"
    serializer_class = serializers.KeySerializer
    filterset_fields = ["algorithm", "active"]

    model = SigningKey

    def tenant_queryset(self, tenant):
        return SigningKey.objects.for_tenant(tenant)

    @extend_schema(
        request=serializers.RotateKeySerializer,
        responses={
            201: serializers.KeySerializer,
            409: OpenApiResponse(
                description="The tenant publishes as many keys as "
                "`[oauth] max_published_signing_keys` allows."
            ),
        },
    )
    @action(detail=False, methods=["post"], permission_verb="update")
    def rotate(self, request):
        """Make a new signing key; the previous ones stay in the JWKS until their tokens expire."""
        data = serializers.RotateKeySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            key = service.rotate_key(
                self.tenant, actor=self.actor, algorithm=data.validated_data.get("algorithm")
            )
        except KeyLimitReached as exc:
            raise Conflict(str(exc)) from exc
        return Response(self.get_serializer(key).data, status=status.HTTP_201_CREATED)
