"""Who may do what in the management API: small DRF permission classes, one rule each.

A view names its ``resource`` (``applicationmgt``, ``usermgt``, ``rolemgt``); an action needs
the verb ``view``, ``create``, ``update`` or ``delete`` of it. A Basic user must hold
``/permission/admin/manage/identity/<resource>/<verb>`` (hierarchically); a Bearer token must
carry WSO2's scope for it (``internal_application_mgt_view``...) and its user must still hold
the permission, checked again on every request.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import exceptions, permissions

from identity.api.authentication import INVALID, ApiCaller
from identity.oauth.scopes import INTERNAL_SCOPES, is_internal
from tenants import get_current_tenant
from tenants.access_control import caller_tenant_allowed

# WSO2's scope stem for each permission resource.
SCOPE_STEMS = {"applicationmgt": "application_mgt", "usermgt": "user_mgt", "rolemgt": "role_mgt"}
VERBS = ("view", "create", "update", "delete")
METHOD_VERBS = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "create", "PUT": "update"}
METHOD_VERBS |= {"PATCH": "update", "DELETE": "delete"}


def scope_name(resource: str, verb: str) -> str:
    return f"internal_{SCOPE_STEMS[resource]}_{verb}"


def permission_path(resource: str, verb: str) -> str:
    """Return the permission path behind the scope of ``verb`` on ``resource``."""
    return INTERNAL_SCOPES[scope_name(resource, verb)][0]


# The API's scopes: those of the internal scopes whose permission is a management path.
API_SCOPES = tuple(scope for scope in INTERNAL_SCOPES if scope.endswith(VERBS))


def required(view, request) -> tuple[str, str]:
    """Return the (resource, verb) the request needs: the view's ``permission_verb`` for an
    extra action, else the verb of its HTTP method."""
    verb = getattr(view, "permission_verb", None) or METHOD_VERBS.get(request.method, "update")
    return view.resource, verb


def check_delegable(caller: ApiCaller | None, scopes: Iterable[str]) -> None:
    """Raise ValidationError (``scopes``) when a Bearer caller would let a client hold an
    ``internal_*`` scope its own token does not carry.

    A client's tokens act for its owner (SPEC §4), and a Bearer caller's client is owned by, or
    may be owned by, its user: a client it creates, changes or takes (its secret) is allowed no
    internal scope beyond what was delegated to the token (RFC 6749 §3.3), or a token limited
    to ``internal_application_mgt_create`` would mint itself one for user management. A Basic
    caller acts with its user's whole permissions.
    """
    if caller is None or caller.kind != "bearer":
        return
    beyond = sorted(scope for scope in set(scopes) if is_internal(scope) and scope not in caller.scopes)
    if beyond:
        raise exceptions.ValidationError({"scopes": f"the access token does not carry {', '.join(beyond)}"})


class IsAuthenticatedCaller(permissions.BasePermission):
    """Allow only a caller that one of the authentication classes accepted."""

    def has_permission(self, request, view) -> bool:
        return request.auth is not None


class CallerOfPathTenant(permissions.BasePermission):
    """Allow a caller of the path's tenant, or of a tenant its access-control entry lets in."""

    def has_permission(self, request, view) -> bool:
        entry = getattr(request, "access_control", None)
        if caller_tenant_allowed(entry, request.auth.tenant.domain, get_current_tenant(request).domain):
            return True
        # Refused like a wrong credential: a caller learns nothing about the other tenant.
        raise exceptions.AuthenticationFailed(INVALID)


class HoldsResourcePermission(permissions.BasePermission):
    """Allow a caller holding the permission (and, with a token, the scope) the action needs."""

    def has_permission(self, request, view) -> bool:
        resource, verb = required(view, request)
        path = permission_path(resource, verb)
        if request.auth.kind == "bearer" and scope_name(resource, verb) not in request.auth.scopes:
            self.message = f"the access token needs the scope {scope_name(resource, verb)}"
            return False
        if not request.user.has_any_permission([path]):
            self.message = f"the caller needs the permission {path}"
            return False
        return True


class SuperTenantSuperuser(permissions.BasePermission):
    """Allow only a superuser of the super tenant, signed in with Basic, at the super tenant's API."""

    message = "tenant management needs a super-tenant superuser's Basic credentials"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return (
            request.auth.kind == "user"
            and user.is_superuser
            and user.tenant.is_super
            and get_current_tenant(request).is_super
        )
