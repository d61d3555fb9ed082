"""Who is calling the introspection endpoint: the caller-authentication handlers that
``allowed_auth_handlers`` names (docs/introspection.md, "Callers").

Each handler names the ``Authorization`` scheme it reads (``scheme``); the endpoint hands it
only requests of that scheme. ``authenticate`` returns a :class:`Caller` or raises
:class:`AuthenticationFailed` for bad credentials; it never returns None. A verified caller is
kept in the process's cache (``tenants.cache``) under a keyed digest of its whole credential
(HMAC-SHA256 with a key made at process start and never stored), tagged with the rows it was
verified against: the hot path does no password hash and no query for a caller it has seen,
until a change names its user, roles, client, token or tenant.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote_plus

from django.contrib.auth import authenticate
from django.contrib.auth.hashers import check_password, make_password
from django.http import HttpRequest
from django.utils import timezone

from deployment.current import get_deployment
from deployment.schema import BASIC_CLIENT_HANDLER, BASIC_USER_HANDLER, BEARER_HANDLER
from identity.models import AccessToken, Client, User
from identity.models.tokens import token_checksum
from identity.oauth.scopes import held_scopes
from introspection.errors import AuthenticationFailed
from tenants import get_current_tenant
from tenants.cache import MISSING, Tag, cache, cached, keyed_digest
from tenants.models import Tenant

# Checked against when the client does not exist, so that an unknown client id costs what a
# wrong secret costs (as Django's ModelBackend does for users, ticket #20760).
_DUMMY_SECRET = make_password("not-a-secret", hasher="sha256_secret")


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: what the gates and JWT responses (docs/introspection.md) need."""

    kind: str  # "user", "client", "bearer" or "anonymous"
    tenant: Tenant
    name: str  # fully qualified username, or client id
    permissions: frozenset[str] = field(default_factory=frozenset)  # user callers
    scopes: frozenset[str] = field(default_factory=frozenset)  # bearer callers
    # The key of its verified credential's cache entry (None: anonymous, nothing verified). A
    # caller's pass answers only while that entry is cached (introspection/first_sight.py).
    entry: Hashable | None = field(default=None, repr=False, compare=False)

    @property
    def audience(self) -> str | None:
        """The ``aud`` of a JWT response to this caller (RFC 9701); none when unauthenticated."""
        return None if self.kind == "anonymous" else self.name


class _Refused(Exception):
    """A credential that does not verify: raised out of a cache loader, so nothing is kept."""


# What a verification gives the cache: the caller, the tags of the rows it was verified
# against, and how long it may be trusted (None: ``[cache] max_age``).
Verified = tuple[Caller, list[Tag], float | None]


class Handler(Protocol):
    scheme: str

    def authenticate(self, request: HttpRequest, payload: str) -> Caller: ...


def basic_credentials(payload: str, *, form_encoded: bool) -> tuple[str, str]:
    """Decode an RFC 7617 Basic payload. Clients' ids and secrets are form-encoded first
    (RFC 6749 §2.3.1); users' names and passwords are not."""
    try:
        decoded = base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AuthenticationFailed() from None
    name, colon, secret = decoded.partition(":")
    # No identity has a NUL byte, and PostgreSQL refuses one in a query parameter.
    if not colon or not name or "\x00" in decoded:
        raise AuthenticationFailed()
    if form_encoded:
        return unquote_plus(name), unquote_plus(secret)
    return name, secret


class BasicClientAuthentication:
    """HTTP Basic with the id and secret of a client of the caller's app tenant: the path
    tenant, or the one named by ``appTenant`` (the WSO2 document's cross-tenant form)."""

    scheme = "basic"

    def authenticate(self, request: HttpRequest, payload: str) -> Caller:
        client_id, secret = basic_credentials(payload, form_encoded=True)
        tenant = app_tenant(request)

        def verify() -> Verified:
            client = (
                Client.objects.for_tenant(tenant)
                .filter(client_id=client_id, client_type=Client.CLIENT_CONFIDENTIAL, active=True)
                .only("client_id", "client_secret")
                .first()
            )
            stored = client.client_secret if client is not None else _DUMMY_SECRET
            if not check_password(secret, stored) or client is None:
                raise _Refused()
            caller = Caller(kind="client", tenant=tenant, name=client.client_id)
            return caller, [("c", client.pk), ("t", tenant.pk)], None

        return _cached_caller("caller-client", keyed_digest(str(tenant.pk), client_id, secret), verify)


class BasicAuthentication:
    """HTTP Basic with a user's credentials: ``user`` (super tenant) or ``user@tenant``."""

    scheme = "basic"

    def authenticate(self, request: HttpRequest, payload: str) -> Caller:
        login, password = basic_credentials(payload, form_encoded=False)

        def verify() -> Verified:
            user = authenticate(request, username=login, password=password)
            if user is None:
                raise _Refused()
            caller = Caller(
                kind="user",
                tenant=user.tenant,
                name=user.qualified_name,
                permissions=frozenset(user.permission_paths()),
            )
            # ("tenants",) too: the login names its tenant by domain, and a tenant created since
            # may take it over (``bob@example.org`` becomes example.org's ``bob``; docs/security.md).
            tags: list[Tag] = [("u", user.pk), ("t", user.tenant_id), ("tenants",), *_role_tags(user)]
            return caller, tags, None

        return _cached_caller("caller-user", keyed_digest(login, password), verify)


class OAuthAuthentication:
    """``Authorization: Bearer <access token>`` (RFC 6750 §2.1), the Janssen form: an active
    token, whose tenant is the caller's and whose scopes gate 2 checks."""

    scheme = "bearer"

    def authenticate(self, request: HttpRequest, payload: str) -> Caller:
        checksum = token_checksum(payload)

        def verify() -> Verified:
            token = (
                AccessToken.objects.all_tenants()
                .select_related("application", "user", "application__user")
                .filter(token_checksum=checksum)
                .first()
            )
            if token is None or not token.is_active() or token.application_id is None:
                raise _Refused()
            tenant = Tenant.objects.get_by_id(token.tenant_id)
            if tenant is None or not tenant.active or not token.application.active:
                raise _Refused()
            # Who holds the token's internal scopes now: its user, or for an app token the
            # client's owner. Re-checked at use: a permission removed since issuance is gone.
            holder = token.user if token.user_id is not None else token.application.user
            if token.user_id is not None and not token.user.can_authenticate:
                raise _Refused()
            tags: list[Tag] = [("at", token.pk), ("c", token.application_id), ("t", tenant.pk)]
            if holder is not None:
                tags += [("u", holder.pk), *_role_tags(holder)]
            deployment = get_deployment()
            caller = Caller(
                kind="bearer",
                tenant=tenant,
                name=token.application.client_id,
                scopes=frozenset(held_scopes(holder, token.scope.split(), deployment)),
            )
            # Never trusted past the token's expiry.
            return caller, tags, (token.expires - timezone.now()).total_seconds()

        return _cached_caller("caller-bearer", checksum, verify)


def _cached_caller(kind: str, key: bytes | str, verify: Callable[[], Verified]) -> Caller:
    """Return the caller that ``verify()`` builds, from the cache when this credential was seen;
    it knows its entry's key."""

    def verified() -> Verified:
        caller, tags, lifetime = verify()
        return dataclasses.replace(caller, entry=(kind, key)), tags, lifetime

    try:
        found = cached(kind, key, verified, lambda found: found[1], lambda found: found[2])
    except _Refused:
        raise AuthenticationFailed() from None
    return found[0]


def is_known(kind: str, *credential: str) -> bool:
    """Whether this process verified the credential before and still trusts it (no hash needed).

    ``kind`` is "user" (login, password), "client" (tenant id, client id, secret) or "bearer"
    (the token).
    """
    key = token_checksum(credential[0]) if kind == "bearer" else keyed_digest(*credential)
    return cache.get((f"caller-{kind}", key)) is not MISSING


def _role_tags(user: User) -> list[Tag]:
    """A user's roles: a change to one changes the user's permissions."""
    return [("r", pk) for pk in user.roles.values_list("pk", flat=True)]


HANDLERS: dict[str, Handler] = {
    BASIC_USER_HANDLER: BasicAuthentication(),
    BASIC_CLIENT_HANDLER: BasicClientAuthentication(),
    BEARER_HANDLER: OAuthAuthentication(),
}


def authenticate_caller(
    request: HttpRequest, handler_names: tuple[str, ...], *, skip_authorization: bool
) -> Caller:
    """Return the caller of ``request`` as one of ``handler_names`` accepts it.

    Both Basic handlers may be on: a Basic credential is accepted if either accepts it.
    Whatever is wrong, the failure is the same 401 with a challenge per accepted scheme.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, payload = header.strip().partition(" ")
    scheme = scheme.lower()
    if not header:
        if skip_authorization:
            return Caller(kind="anonymous", tenant=get_current_tenant(request), name="")
    else:
        for name in handler_names:
            handler = HANDLERS[name]
            if handler.scheme != scheme:
                continue
            try:
                return handler.authenticate(request, payload.strip())
            except AuthenticationFailed:
                continue
    raise AuthenticationFailed(headers={"WWW-Authenticate": challenge(request, handler_names)})


def challenge(request: HttpRequest, handler_names: tuple[str, ...]) -> str:
    """The WWW-Authenticate value naming each accepted scheme (RFC 7235 §4.1)."""
    realm = get_current_tenant(request).domain
    schemes = dict.fromkeys("Bearer" if name == BEARER_HANDLER else "Basic" for name in handler_names)
    return ", ".join(f'{scheme} realm="{realm}"' for scheme in schemes)


def app_tenant(request: HttpRequest) -> Tenant:
    """The tenant of a client caller: ``appTenant`` if given, else the path's."""
    domain = request.POST.get("appTenant") or request.GET.get("appTenant")
    return tenant_named(domain, get_current_tenant(request))


def tenant_named(domain: str | None, path_tenant: Tenant) -> Tenant:
    """The tenant an ``appTenant`` of ``domain`` names (``path_tenant`` when empty); raise
    AuthenticationFailed when it is unknown or inactive."""
    if not domain:
        return path_tenant
    tenant = Tenant.objects.get_active(domain)
    if tenant is None:
        raise AuthenticationFailed()
    return tenant
