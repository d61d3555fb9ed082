"""Resolve the tenant of every request and apply ``[[resource.access_control]]`` (docs/architecture.md,
docs/deployment-toml.md)."""

from __future__ import annotations

from django.urls import set_script_prefix

from deployment.current import get_deployment
from tenants.access_control import canonical_path, match_entry, request_is_secure
from tenants.errors import InsecureTransport, NoSuperTenant, UnknownTenant, error_response
from tenants.models import Tenant
from tenants.resolver import split_tenant_path

# Operational endpoints (health probes, metrics): no tenant, so they answer without the database.
UNTENANTED_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})


class TenantMiddleware:
    """Set ``request.tenant`` from ``/t/<domain>/`` and strip that prefix before URL routing.

    The prefix moves into the script prefix, so ``reverse()`` and redirects inside a tenant keep it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in UNTENANTED_PATHS:
            set_script_prefix(request.path[: len(request.path) - len(request.path_info)] + "/")
            return self.get_response(request)
        split = split_tenant_path(request.path_info)
        # Set the prefix from this request's own script name, on every request: the prefix is
        # thread-local, and not every handler resets it (Django's test client does not).
        script_name = request.path[: len(request.path) - len(request.path_info)]
        if split.domain is None:
            tenant = Tenant.objects.get_active(get_deployment().tenant.super_tenant_domain)
            if tenant is None:
                return error_response(NoSuperTenant())
            request.tenant = tenant
            set_script_prefix(script_name + "/")
        else:
            tenant = Tenant.objects.get_active(split.domain)
            if tenant is None:
                return error_response(UnknownTenant(split.domain))
            request.tenant = tenant
            set_script_prefix(script_name + split.prefix + "/")
            request.path_info = split.rest
        return self.get_response(request)


class AccessControlMiddleware:
    """Find the ``[[resource.access_control]]`` entry for the request; refuse plain HTTP where
    it says ``secure = true``. Views read the entry with ``tenants.access_control.matched_entry(request)``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        entry = match_entry(canonical_path(request), request.method)
        request.access_control = entry
        if entry is not None and entry.secure and not request_is_secure(request):
            return error_response(InsecureTransport())
        return self.get_response(request)
