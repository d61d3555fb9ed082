"""``roles``: roles of the tenant and the permission paths they hold."""

from __future__ import annotations

from rest_framework import mixins, status
from rest_framework.response import Response

from identity.api import serializers
from identity.api.views.base import TenantViewSet
from identity.models import Role
from identity.services import roles as service


class RoleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    resource = "rolemgt"
    serializer_class = serializers.RoleSerializer
    filterset_fields = ["name"]

    model = Role

    def tenant_queryset(self, tenant):
        return Role.objects.for_tenant(tenant).order_by("pk")

    def create(self, request):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        role = service.create_role(
            self.tenant,
            data.validated_data["name"],
            data.validated_data["permissions"],
            actor=self.actor,
            acting_user=request.user,
        )
        return Response(self.get_serializer(role).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        role = self.get_object()
        data = self.get_serializer(role, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "name" in data.validated_data and data.validated_data["name"] != role.name:
            service.rename_role(role, data.validated_data["name"], actor=self.actor)
        if "permissions" in data.validated_data:
            service.set_role_permissions(
                role, data.validated_data["permissions"], actor=self.actor, acting_user=request.user
            )
        return Response(self.get_serializer(role).data)

    def destroy(self, request, pk=None):
        service.delete_role(self.get_object(), actor=self.actor, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
