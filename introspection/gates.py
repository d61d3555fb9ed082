"""The three gates of introspection (docs/introspection.md#the-gates), in the order the endpoint applies them.

P is the tenant of the path, C the caller's, T the token's.
1. Caller vs path: C = P, unless the matched ``[[resource.access_control]]`` entry has
   ``cross_tenant = true`` and (no ``cross_access_allowed_tenants``, or it lists C). Else 401.
2. Permission or scope: a user caller holds one of ``[resource_access_control.introspect]
   permissions`` (hierarchically); a bearer caller's token carries one of its ``scopes``. Else 403.
3. Token vs path: T = P, unless ``[oauth.introspect] allow_cross_tenant = true``. Else the
   token is reported inactive, for access and refresh tokens alike.
"""

from __future__ import annotations

from deployment import AccessControlEntry, IntrospectAccessConfig, IntrospectConfig
from identity import permissions
from identity.models import AccessToken, RefreshToken
from introspection import audit as decision
from introspection.authentication import Caller
from introspection.errors import CallerTenantRefused, InsufficientScope, PermissionDenied
from introspection.responses import is_active
from tenants.access_control import caller_tenant_allowed
from tenants.models import Tenant


def caller_vs_path(caller: Caller, path_tenant: Tenant, entry: AccessControlEntry | None) -> None:
    """Gate 1: raise CallerTenantRefused (401) for a caller of a tenant not let in.

    The answer is the one a wrong credential gets: a valid credential of another tenant must
    not tell an attacker that it is valid (no oracle across tenants).
    """
    if caller.kind == "anonymous":
        return
    if not caller_tenant_allowed(entry, caller.tenant.domain, path_tenant.domain):
        raise CallerTenantRefused()


def permission_or_scope(caller: Caller, access: IntrospectAccessConfig) -> None:
    """Gate 2: raise PermissionDenied / InsufficientScope (403) for a caller without rights."""
    if caller.kind == "user" and not permissions.holds_any(caller.permissions, access.permissions):
        raise PermissionDenied(f"the user needs one of the permissions {', '.join(access.permissions)}")
    if caller.kind == "bearer" and access.scopes and not caller.scopes.intersection(access.scopes):
        scope = " ".join(access.scopes)
        raise InsufficientScope(
            f"the access token needs one of the scopes {scope}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )


def token_vs_path(token_tenant_id: int, path_tenant: Tenant, allow_cross_tenant: bool) -> bool:
    """Gate 3: return whether a token of tenant ``token_tenant_id`` may be reported here."""
    if token_tenant_id == path_tenant.pk:
        return True
    if not allow_cross_tenant:
        return False
    # A deactivated tenant's tokens are no one's (docs/architecture.md), wherever they are introspected.
    token_tenant = Tenant.objects.get_by_id(token_tenant_id)
    return token_tenant is not None and token_tenant.active


def inactive_by(
    found: AccessToken | RefreshToken | None, path_tenant: Tenant, config: IntrospectConfig
) -> str | None:
    """Return the step that answers ``found`` inactive (RFC 7662 §2.2: a token this server does
    not hold, one gate 3 keeps from the path's tenant, or one no longer valid), or None when
    it is active."""
    if found is None:
        return decision.LOOKUP
    if not token_vs_path(found.tenant_id, path_tenant, config.allow_cross_tenant):
        return decision.TOKEN_VS_PATH
    return None if is_active(found) else decision.TOKEN_STATE
