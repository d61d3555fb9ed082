"""Who calls the management API: DRF authentication classes, one per scheme.

Each returns None when the request does not use its scheme (or ``[[resource.access_control]]``
does not accept it here), raises ``AuthenticationFailed`` for bad credentials, and otherwise
returns ``(user, ApiCaller)``. Every failure reads the same, so a caller learns nothing about
why (a valid credential of another tenant fails like a wrong one).
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass, field

from django.contrib.auth import authenticate
from rest_framework import authentication, exceptions

from deployment import BASIC_USER_HANDLER, BEARER_HANDLER
from identity import throttle
from identity.models import AccessToken, User
from identity.models.tokens import token_checksum
from identity.oauth.scopes import INTERNAL_SCOPES
from identity.usernames import resolve_login
from tenants import get_current_tenant
from tenants.access_control import allowed_auth_handlers
from tenants.models import Tenant

INVALID = "invalid credentials"


@dataclass(frozen=True)
class ApiCaller:
    """An authenticated caller of the API (``request.auth``); ``request.user`` is its user."""

    kind: str  # "bearer" or "user"
    tenant: Tenant
    actor: str  # what the audit trail records: "admin@foo.com" or "client:<client_id>"
    scopes: frozenset[str] = field(default_factory=frozenset)


def checked(request, identity: str) -> throttle.Attempt:
    """Refuse with 429 before any lookup or hash when the address or identity failed too often."""
    try:
        return throttle.check(request._request, identity)
    except throttle.Throttled as exc:
        raise exceptions.Throttled(wait=exc.retry_after, detail=exc.description) from None


def _accepts(request, handler: str) -> bool:
    return handler in allowed_auth_handlers(getattr(request, "access_control", None))


def _credential(request, scheme: str) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    name, _, payload = header.strip().partition(" ")
    if name.lower() != scheme:
        return None
    return payload.strip()


class BearerAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <access token>`` (RFC 6750 §2.1): an active token whose user
    (the client's owner for client_credentials) can still sign in."""

    def authenticate(self, request):
        payload = _credential(request, "bearer")
        if payload is None or not _accepts(request, BEARER_HANDLER):
            return None
        attempt = checked(request, throttle.bearer_identity(payload))
        try:
            return self._verify(payload)
        except exceptions.AuthenticationFailed:
            attempt.failed()
            raise

    def _verify(self, payload: str):
        token = (
            AccessToken.objects.all_tenants()
            .select_related("tenant", "application", "user")
            .filter(token_checksum=token_checksum(payload))
            .first()
        )
        if token is None or not token.is_active() or not token.tenant.active:
            raise exceptions.AuthenticationFailed(INVALID)
        if token.application_id is None or not token.application.active:
            raise exceptions.AuthenticationFailed(INVALID)
        user = token.user
        if user is None or not user.can_authenticate or user.tenant_id != token.tenant_id:
            raise exceptions.AuthenticationFailed(INVALID)
        actor = f"client:{token.application.client_id}" if token.is_app_token else user.qualified_name
        scopes = frozenset(token.scope.split())
        return delegated(user, scopes), ApiCaller("bearer", token.tenant, actor, scopes)

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{get_current_tenant(request).domain}"'


def delegated(user: User, scopes: frozenset[str]) -> User:
    """Return ``user`` as a Bearer caller acts for it: holding only the permissions behind its
    token's scopes that ``user`` holds, and never as an operator.

    A token holds what was delegated to it (RFC 6749 §3.3), not all of its user's powers: what
    the caller may grant or act on (roles, users, clients' owners) is measured by this. A copy,
    used to decide, never saved.
    """
    acting = copy.copy(user)
    acting.is_superuser = False
    acting._permission_paths = {
        path for scope in scopes for path in INTERNAL_SCOPES.get(scope, ()) if user.has_any_permission([path])
    }
    return acting


class BasicUserAuthentication(authentication.BaseAuthentication):
    """HTTP Basic (RFC 7617) with a user's name and password: ``user`` (super tenant) or
    ``user@tenant``, as everywhere else on the server."""

    def authenticate(self, request):
        payload = _credential(request, "basic")
        if payload is None or not _accepts(request, BASIC_USER_HANDLER):
            return None
        try:
            decoded = base64.b64decode(payload, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise exceptions.AuthenticationFailed(INVALID) from None
        login, colon, password = decoded.partition(":")
        if not colon or not login or "\x00" in decoded:
            raise exceptions.AuthenticationFailed(INVALID)
        resolved = resolve_login(login)
        domain, username = (resolved[0].domain, resolved[1]) if resolved else ("", login)
        attempt = checked(request, throttle.user_identity(domain, username))
        user: User | None = authenticate(request._request, username=login, password=password)
        if user is None:
            attempt.failed()
            raise exceptions.AuthenticationFailed(INVALID)
        attempt.succeeded()
        return user, ApiCaller("user", user.tenant, user.qualified_name)

    def authenticate_header(self, request) -> str:
        return f'Basic realm="{get_current_tenant(request).domain}"'
