"""Scopes: each client's ``allowed_scopes``, and the internal scopes, which are granted
only to holders of the permission behind them (WSO2's ``internal_*`` scopes, docs/clients-and-grants.md)."""

from oauth2_provider.scopes import BaseScopes


class _ScopeNames(dict):
    """Scope descriptions: a scope describes itself, since there is no global list of scopes.

    The toolkit's consent page looks every requested scope up here; an empty dict made any
    authorization request with ``scope`` fail with a KeyError (a 500).
    """

    def __missing__(self, scope: str) -> str:
        return scope


class ClientScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return _ScopeNames()

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return list(application.allowed_scopes) if application is not None else []

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        # A token request without `scope` gets a token without scope (as in the WSO2 document).
        return []


# -- Internal scopes: granted only to whoever holds the permission behind them -------------

_MANAGEMENT = "/permission/admin/manage/identity"

#: The permission paths behind each internal scope (WSO2's names). Holding any one of them,
#: or an ancestor of it (paths are hierarchical), entitles to the scope.
#: ``internal_oauth2_introspect`` is not listed: it stands for the deployment's
#: ``[resource_access_control.introspect] permissions`` (see ``internal_scope_permissions``).
INTERNAL_SCOPES: dict[str, tuple[str, ...]] = {
    f"internal_{scope}_mgt_{action}": (f"{_MANAGEMENT}/{area}/{action}",)
    for scope, area in (("application", "applicationmgt"), ("user", "usermgt"), ("role", "rolemgt"))
    for action in ("view", "create", "update", "delete")
}
INTROSPECT_SCOPE = "internal_oauth2_introspect"
INTERNAL_PREFIX = "internal_"


def is_internal(scope: str) -> bool:
    """Return whether ``scope`` is an internal scope (granted by permission, never by the client alone)."""
    return scope.startswith(INTERNAL_PREFIX)


def internal_scope_permissions(scope: str, deployment) -> tuple[str, ...]:
    """Return the permission paths any one of which entitles to internal ``scope``.

    An internal scope this server does not know maps to no permission: nobody holds it.
    """
    if scope == INTROSPECT_SCOPE:
        return tuple(deployment.resource_access_control.introspect.permissions)
    return INTERNAL_SCOPES.get(scope, ())


def holds_scope(user, scope: str, deployment) -> bool:
    """Return whether ``user`` may be granted ``scope`` now (any non-internal scope: yes).

    A missing, locked or inactive user holds no internal scope.
    """
    if not is_internal(scope):
        return True
    wanted = internal_scope_permissions(scope, deployment)
    return user is not None and bool(wanted) and user.has_any_permission(wanted)


def held_scopes(user, scopes, deployment) -> list[str]:
    """Return ``scopes`` without the internal ones ``user`` does not hold, in order."""
    return [scope for scope in scopes if holds_scope(user, scope, deployment)]
