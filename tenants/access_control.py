"""The resource access control engine: ``[[resource.access_control]]`` of deployment.toml
(docs/deployment-toml.md).

The first entry whose ``context`` (a case-insensitive regex) matches the whole canonical request
path, ``/t/<tenant>`` included and the query excluded, and whose ``http_method`` admits the
method, governs the request. The canonical path of the super tenant has no ``/t/<domain>``:
``/t/carbon.super/x`` is ``/x``, so a rule for a super-tenant path cannot be dodged by naming
the super tenant. It says which caller-authentication handlers are accepted, whether plain
HTTP is refused, and whether callers of other tenants may come in (gate 1, docs/introspection.md#the-gates).
"""

from __future__ import annotations

from django.http import HttpRequest

from deployment import DEFAULT_AUTH_HANDLERS, AccessControlEntry
from deployment.current import get_deployment
from tenants.resolver import split_tenant_path


def match_entry(path: str, method: str) -> AccessControlEntry | None:
    """Return the first entry governing ``method path``, or None when none does."""
    for entry in get_deployment().resource.access_control:
        if entry.matches(path, method):
            return entry
    return None


def matched_entry(request: HttpRequest) -> AccessControlEntry | None:
    """The entry ``AccessControlMiddleware`` matched for ``request`` (None: no entry matched)."""
    entry: AccessControlEntry | None = getattr(request, "access_control", None)
    return entry


def canonical_path(request) -> str:
    """Return the path rules match: ``request.path``, without ``/t/<domain>`` for the super tenant."""
    split = split_tenant_path(request.path)
    tenant = getattr(request, "tenant", None)
    if split.domain is not None and tenant is not None and tenant.is_super:
        return split.rest
    return request.path


def allowed_auth_handlers(entry: AccessControlEntry | None) -> tuple[str, ...]:
    """Return the caller-authentication handlers accepted under ``entry`` (docs/introspection.md#callers)."""
    return tuple(entry.allowed_auth_handlers) if entry is not None else DEFAULT_AUTH_HANDLERS


def caller_tenant_allowed(entry: AccessControlEntry | None, caller_domain: str, path_domain: str) -> bool:
    """Gate 1: may a caller of ``caller_domain`` use ``path_domain``'s endpoint? Yes for its own
    tenant; for another, only under an entry with ``cross_tenant = true`` whose
    ``cross_access_allowed_tenants`` is empty or names it (docs/cross-tenant.md)."""
    if caller_domain == path_domain:
        return True
    if entry is None or not entry.cross_tenant:
        return False
    return not entry.cross_access_allowed_tenants or caller_domain in entry.cross_access_allowed_tenants


def request_is_secure(request) -> bool:
    """Return whether the request came over TLS, directly or through a trusted TLS proxy."""
    if request.is_secure():
        return True
    proxies = get_deployment().server.trusted_proxies
    return (
        request.META.get("REMOTE_ADDR") in proxies
        and request.META.get("HTTP_X_FORWARDED_PROTO", "").lower() == "https"
    )
