"""Create tenants, deactivate and activate them.

A deactivated tenant answers 404 on every path, its users cannot authenticate, and every token
it issued is revoked, so activating it again revives none (docs/token-storage.md).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from identity import audit, provisioning
from identity.services.tokens import revoke_tenant_tokens_quietly
from identity.services.uniqueness import claiming
from tenants.models import Tenant


@transaction.atomic
def create_tenant(
    domain: str, *, admin_username: str, admin_password: str, name: str = "", actor: str
) -> Tenant:
    """Create tenant ``domain`` with its signing key and its admin (holding /permission/admin)."""
    taken = Tenant.objects.filter(domain=domain).exists
    with claiming(taken, {"domain": f"tenant '{domain}' already exists"}):
        tenant = provisioning.create_tenant(
            domain, admin_username=admin_username, admin_password=admin_password, name=name
        )
    audit.record(
        "tenant.created", actor=actor, tenant=tenant.domain, tenant_id=tenant.pk, admin=admin_username
    )
    return tenant


@transaction.atomic
def deactivate_tenant(tenant: Tenant, *, actor: str) -> None:
    """Deactivate ``tenant`` and revoke every token it issued. The super tenant cannot be."""
    if tenant.is_super:
        raise ValidationError({"domain": "the super tenant cannot be deactivated"})
    tenant.active = False
    revoked = revoke_tenant_tokens_quietly(tenant)
    tenant.save(update_fields=["active"])
    audit.record(
        "tenant.deactivated", actor=actor, tenant=tenant.domain, tenant_id=tenant.pk, tokens_revoked=revoked
    )


@transaction.atomic
def activate_tenant(tenant: Tenant, *, actor: str) -> None:
    """Activate ``tenant`` again; tokens revoked when it was deactivated stay revoked."""
    tenant.active = True
    tenant.save(update_fields=["active"])
    audit.record("tenant.activated", actor=actor, tenant=tenant.domain, tenant_id=tenant.pk)
