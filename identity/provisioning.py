"""Create tenants and their first users, all or nothing (docs/quickstart.md, docs/commands.md)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from identity import permissions
from identity.models import Role, SigningKey, User
from identity.usernames import validate_new_tenant_domain
from tenants.models import Tenant

ADMIN_ROLE = "admin"


@transaction.atomic
def create_tenant(domain: str, *, admin_username: str, admin_password: str, name: str = "") -> Tenant:
    """Create tenant ``domain`` with its signing key and admin (holding /permission/admin),
    recorded as the tenant's ``admin``."""
    tenant = Tenant(domain=domain, name=name or domain)
    tenant.full_clean()
    try:
        validate_new_tenant_domain(domain)
    except ValidationError as error:
        raise ValidationError({"domain": error.messages}) from None
    tenant.save()
    SigningKey.generate(tenant)
    tenant.admin = create_admin(tenant, admin_username, admin_password)
    tenant.save(update_fields=["admin"])
    return tenant


def create_admin(tenant: Tenant, username: str, password: str) -> User:
    """Create a user of ``tenant`` holding /permission/admin who may use the admin site."""
    user = create_user(tenant, username, password, [permissions.ADMIN], role_name=ADMIN_ROLE)
    user.is_staff = True
    user.is_superuser = tenant.is_super
    user.save(update_fields=["is_staff", "is_superuser"])
    return user


@transaction.atomic
def create_user(
    tenant: Tenant, username: str, password: str, permission_paths: Iterable[str] = (), *, role_name: str = ""
) -> User:
    """Create a user of ``tenant``; its permissions go in a role (``role_name`` or one of its own)."""
    user = User.objects.create_user(tenant, username, password)
    permission_paths = list(permission_paths)
    if permission_paths:
        name = role_name or f"user:{username}"
        role = Role.objects.for_tenant(tenant).filter(name=name).first() or Role(tenant=tenant, name=name)
        role.permissions = sorted(set(role.permissions) | set(permission_paths))
        role.full_clean()  # before the INSERT: PostgreSQL answers an over-long name with a DataError
        role.save()
        user.roles.add(role)
    return user
