"""Roles of a tenant and the permission paths they hold (docs/api.md).

No escalation: when ``acting_user`` is given (the API and the admin pass the caller), a role
may be given only permissions that user holds itself. Commands pass none: the operator of the
server holds everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from identity import audit, permissions
from identity.models import Role, User
from identity.services.uniqueness import claiming
from tenants.models import Tenant


def check_grantable(paths: Iterable[str], acting_user: User | None) -> None:
    """Raise ValidationError when ``acting_user`` does not hold every one of ``paths``."""
    if acting_user is None:
        return
    held = acting_user.permission_paths() if acting_user.can_authenticate else set()
    missing = sorted(path for path in paths if not permissions.holds_any(held, [path]))
    if missing:
        raise ValidationError({"permissions": f"the caller does not hold {', '.join(missing)}"})


@transaction.atomic
def create_role(
    tenant: Tenant, name: str, permission_paths: Iterable[str] = (), *, actor: str, acting_user=None
) -> Role:
    """Create role ``name`` of ``tenant`` holding ``permission_paths``."""
    paths = sorted(set(permission_paths))
    check_grantable(paths, acting_user)
    role = Role(tenant=tenant, name=name, permissions=paths)
    taken = Role.objects.for_tenant(tenant).filter(name=name).exists
    with claiming(taken, {"name": f"role '{name}' already exists in tenant {tenant.domain}"}):
        role.full_clean()
        role.save()
    audit.record("role.created", actor=actor, tenant=tenant.domain, role=name, permissions=paths)
    return role


@transaction.atomic
def set_role_permissions(
    role: Role, permission_paths: Iterable[str], *, actor: str, acting_user=None
) -> Role:
    """Make ``role`` hold exactly ``permission_paths``. The paths added or taken away must be
    grantable: taking one away strips the role's users as deleting the role would."""
    paths = sorted(set(permission_paths))
    check_grantable(set(paths) ^ set(role.permissions), acting_user)
    role.permissions = paths
    role.full_clean()
    role.save()
    audit.record("role.updated", actor=actor, tenant=role.tenant.domain, role=role.name, permissions=paths)
    return role


@transaction.atomic
def rename_role(role: Role, name: str, *, actor: str) -> Role:
    """Rename ``role`` (names are unique per tenant)."""
    if Role.objects.for_tenant(role.tenant).filter(name=name).exclude(pk=role.pk).exists():
        raise ValidationError({"name": f"role '{name}' already exists in tenant {role.tenant.domain}"})
    previous, role.name = role.name, name
    role.full_clean()
    role.save()
    audit.record("role.renamed", actor=actor, tenant=role.tenant.domain, role=name, previous=previous)
    return role


@transaction.atomic
def delete_role(role: Role, *, actor: str, acting_user=None) -> None:
    """Delete ``role``; its users lose its permissions. A caller may delete only a role whose
    permissions it holds (else removing it could strip an administrator it may not touch)."""
    check_grantable(role.permissions, acting_user)
    audit.record("role.deleted", actor=actor, tenant=role.tenant.domain, role=role.name)
    role.delete()
