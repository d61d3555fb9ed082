"""What every viewset of the management API shares: the tenant of the path, the caller."""

from __future__ import annotations

from rest_framework import exceptions, viewsets

from tenants import get_current_tenant


class TenantViewSet(viewsets.GenericViewSet):
    """A viewset over rows of the path's tenant; ``resource`` names its permission path."""

    resource = ""
    permission_verb = None  # set by an extra action that needs another verb than its method's
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def initial(self, request, *args, **kwargs):
        # No stored value holds a NUL, and PostgreSQL refuses one in a query (a DataError).
        if any("\x00" in str(value) for value in (*kwargs.values(), *request.query_params.values())):
            raise exceptions.ValidationError({"request": "NUL characters are not allowed"})
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular asks for the model only
            return self.model.objects.all_tenants().none()
        return self.tenant_queryset(self.tenant)

    def tenant_queryset(self, tenant):
        raise NotImplementedError

    @property
    def tenant(self):
        return get_current_tenant(self.request)

    @property
    def actor(self) -> str:
        return self.request.auth.actor
