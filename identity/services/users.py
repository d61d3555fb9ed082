"""Create users, lock, deactivate or delete them, set their password and roles.

From the moment a user is locked, deactivated or deleted its tokens are revoked in the database,
so they stay inactive when the user is unlocked or activated again (docs/token-storage.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from identity import audit
from identity.models import Client, Role, User
from identity.models.users import validate_new_password
from identity.permissions import is_valid_path
from identity.services.roles import check_grantable
from identity.services.tokens import revoke_user_tokens_quietly
from identity.services.uniqueness import claiming
from tenants.admin_scoping import is_operator
from tenants.models import Tenant


def check_may_act_on(target: User, acting_user: User | None, *, taking: bool = False) -> None:
    """Raise unless ``acting_user`` may act on ``target`` (no escalation, SPEC §8).

    An operator (a super-tenant superuser) may act on anyone, and anyone on itself. Nobody else
    acts on a user holding a permission ``acting_user`` does not hold (ValidationError), nor on
    a superuser, nor, when ``taking`` its powers (setting its password, owning a client with
    it), on another admin (staff): PermissionDenied. Commands pass no ``acting_user``.
    """
    if acting_user is None or is_operator(acting_user) or target.pk == acting_user.pk:
        return
    check_grantable(target.permission_paths(), acting_user)
    if target.is_superuser or (taking and target.is_staff):
        raise PermissionDenied(f"only an operator may act on {target.qualified_name}")


@transaction.atomic
def create_user(
    tenant: Tenant,
    username: str,
    password: str,
    *,
    roles: Iterable[Role | str] = (),
    email: str = "",
    permissions: Iterable[str] = (),
    actor: str,
) -> User:
    """Create a user of ``tenant`` holding ``roles`` (rows or names of the tenant's roles).

    ``permissions`` (paths) go in a role of the user's own, ``user:<username>``.
    """
    held = _roles(tenant, roles)
    taken = User.objects.for_tenant(tenant).filter(username=username).exists
    with claiming(taken, {"username": f"user '{username}@{tenant.domain}' already exists"}):
        user = User.objects.create_user(tenant, username, password, email=email)
    paths = sorted(set(permissions))
    if paths:
        held.append(_own_role(tenant, username, paths))
    if held:
        user.roles.add(*held)
    audit.record(
        "user.created",
        actor=actor,
        tenant=tenant.domain,
        user=username,
        user_id=user.pk,
        roles=sorted(role.name for role in held),
    )
    return user


def _own_role(tenant: Tenant, username: str, paths: list[str]) -> Role:
    bad = [path for path in paths if not is_valid_path(path)]
    if bad:
        raise ValidationError({"permissions": f"not a permission path: {', '.join(bad)}"})
    name = f"user:{username}"
    role = Role.objects.for_tenant(tenant).filter(name=name).first() or Role(tenant=tenant, name=name)
    role.permissions = sorted(set(role.permissions) | set(paths))
    role.full_clean()  # before the INSERT: PostgreSQL answers an over-long name with a DataError
    role.save()
    return role


def _roles(tenant: Tenant, roles: Iterable[Role | str]) -> list[Role]:
    """Return ``roles`` as rows of ``tenant``; a name or row of another tenant is an error."""
    rows, names = [], []
    for role in roles:
        if isinstance(role, Role):
            if role.tenant_id != tenant.pk:
                raise ValidationError({"roles": f"role '{role.name}' is not a role of {tenant.domain}"})
            rows.append(role)
        else:
            names.append(role)
    found = {role.name: role for role in Role.objects.for_tenant(tenant).filter(name__in=names)}
    missing = sorted(set(names) - set(found))
    if missing:
        raise ValidationError({"roles": f"no role {', '.join(missing)} in tenant {tenant.domain}"})
    return list(dict.fromkeys([*rows, *found.values()]))


@transaction.atomic
def lock_user(user: User, *, actor: str) -> None:
    """Lock ``user``: it can no longer authenticate, and every token it holds is revoked."""
    _set_flag(user, "is_locked", True, "user.locked", actor)


@transaction.atomic
def unlock_user(user: User, *, actor: str) -> None:
    """Unlock ``user``. Tokens revoked when it was locked stay revoked."""
    _set_flag(user, "is_locked", False, "user.unlocked", actor)


@transaction.atomic
def deactivate_user(user: User, *, actor: str) -> None:
    """Deactivate ``user``: it can no longer authenticate, and every token it holds is revoked."""
    _set_flag(user, "is_active", False, "user.deactivated", actor)


@transaction.atomic
def activate_user(user: User, *, actor: str) -> None:
    """Activate ``user`` again. Tokens revoked when it was deactivated stay revoked."""
    _set_flag(user, "is_active", True, "user.activated", actor)


def _set_flag(user: User, flag: str, value: bool, event: str, actor: str) -> None:
    setattr(user, flag, value)
    # Revoke, then save: the save's own safety net (identity.signals) then finds nothing left,
    # and the count recorded is the real one.
    revoked = 0 if user.can_authenticate else revoke_user_tokens_quietly(user)
    user.save(update_fields=[flag])
    audit.record(
        event,
        actor=actor,
        tenant=user.tenant.domain,
        user=user.username,
        user_id=user.pk,
        tokens_revoked=revoked,
    )


@transaction.atomic
def delete_user(user: User, *, actor: str) -> None:
    """Delete ``user``, revoking its tokens first (the revocation is what other processes hear).

    A user who owns clients is refused: deleting it would delete them (the toolkit's owner
    foreign key cascades). Give them another owner first.
    """
    owned = sorted(
        Client.objects.for_tenant(user.tenant).filter(user=user).values_list("client_id", flat=True)
    )
    if owned:
        names = ", ".join(owned)
        raise ValidationError(
            {"user": f"{user.qualified_name} owns client(s) {names}: give them another owner"}
        )
    revoked = revoke_user_tokens_quietly(user)
    user_id, username, domain = user.pk, user.username, user.tenant.domain
    user.delete()
    audit.record(
        "user.deleted", actor=actor, tenant=domain, user=username, user_id=user_id, tokens_revoked=revoked
    )


@transaction.atomic
def set_password(user: User, password: str, *, actor: str) -> None:
    """Set ``user``'s password (Django's hashers); ``None`` disables password sign-in."""
    validate_new_password(password)
    user.set_password(password)
    user.save(update_fields=["password"])
    record_password_change(user, actor=actor)


def record_password_change(user: User, *, actor: str) -> None:
    """Audit that ``user``'s password was set (or password sign-in disabled) by ``actor``."""
    audit.record(
        "user.password_changed",
        actor=actor,
        tenant=user.tenant.domain,
        user=user.username,
        user_id=user.pk,
        usable=user.has_usable_password(),
    )


@transaction.atomic
def set_roles(user: User, roles: Iterable[Role | str], *, actor: str) -> None:
    """Make ``roles`` (rows or names of the user's tenant's roles) exactly the roles ``user`` holds."""
    held = _roles(user.tenant, roles)
    user.roles.set(held)
    if hasattr(user, "_permission_paths"):
        del user._permission_paths
    audit.record(
        "user.roles_changed",
        actor=actor,
        tenant=user.tenant.domain,
        user=user.username,
        user_id=user.pk,
        roles=sorted(role.name for role in held),
    )
