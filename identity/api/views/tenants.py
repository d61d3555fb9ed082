"""``tenants``: for the super tenant's superusers, at the super tenant's API only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from identity.api import serializers
from identity.api.permissions import CallerOfPathTenant, IsAuthenticatedCaller, SuperTenantSuperuser
from identity.api.views.base import TenantViewSet
from identity.services import tenants as service
from tenants.models import Tenant


class TenantManagementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    model = Tenant
    lookup_field = "domain"
    lookup_value_regex = "[^/]+"
    serializer_class = serializers.TenantSerializer
    permission_classes = [IsAuthenticatedCaller, CallerOfPathTenant, SuperTenantSuperuser]
    filterset_fields = ["domain", "active"]

    def get_queryset(self):
        return Tenant.objects.order_by("pk")

    @extend_schema(request=serializers.TenantCreateSerializer, responses={201: serializers.TenantSerializer})
    def create(self, request):
        """Create a tenant with its signing key and first admin (holding /permission/admin)."""
        data = serializers.TenantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = service.create_tenant(**data.validated_data, actor=self.actor)
        return Response(self.get_serializer(tenant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=serializers.TenantSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, domain=None):
        """Deactivate the tenant: its paths answer 404 and every token it issued is revoked."""
        tenant = self.get_object()
        service.deactivate_tenant(tenant, actor=self.actor)
        return Response(self.get_serializer(tenant).data)

    @extend_schema(request=None, responses=serializers.TenantSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, domain=None):
        """Activate the tenant again (its revoked tokens stay revoked)."""
        tenant = self.get_object()
        service.activate_tenant(tenant, actor=self.actor)
        return Response(self.get_serializer(tenant).data)
