"""Resolve a login name to its tenant and username (SPEC §4).

``admin`` is the super tenant's admin (or, where a tenant is implied, as at
``/t/foo.com/oauth2/token``, that tenant's); ``admin@foo.com`` is foo.com's. A name whose part
after the last ``@`` is not a tenant domain is a whole username (``bob@example.org``).
"""

from __future__ import annotations

from tenants.models import Tenant


def resolve_login(login: str, default_tenant: Tenant | None = None) -> tuple[Tenant, str] | None:
    """Return ``(tenant, username)`` for ``login``, or None when its tenant is unknown or inactive.

    ``default_tenant`` is the tenant of a bare username; the super tenant when not given.
    """
    name, at, domain = login.rpartition("@")
    if at and name:
        tenant = Tenant.objects.get_by_domain(domain)
        if tenant is not None:
            return (tenant, name) if tenant.active else None
    tenant = default_tenant or Tenant.objects.super_tenant()
    return (tenant, login) if tenant.active else None
