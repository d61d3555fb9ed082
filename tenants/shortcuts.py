"""The one answer to "which tenant is this request for?"."""

from __future__ import annotations

import typing

if typing.TYPE_CHECKING:
    from django.http import HttpRequest

    from tenants.models import Tenant


def get_current_tenant(request: HttpRequest) -> Tenant:
    """Return the tenant that TenantMiddleware resolved from the request's path."""
    tenant: Tenant | None = getattr(request, "tenant", None)
    if tenant is None:
        raise RuntimeError("TenantMiddleware has not run for this request; add it to MIDDLEWARE")
    return tenant
