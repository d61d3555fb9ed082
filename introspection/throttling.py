"""Throttling at the introspection endpoint: which identities a credential claims, and whether
checking it will cost a password hash (docs/security.md).

A credential already in the verified-caller cache costs neither a hash nor a counter read: only
credentials that would be checked for real go through :func:`identity.throttle.check`. A cached
one is still refused while its address, or its identity from that address, is blocked
(:func:`identity.throttle.refuse_blocked`, from memory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from django.http import HttpRequest

from deployment.schema import BASIC_CLIENT_HANDLER, BASIC_USER_HANDLER, BEARER_HANDLER
from identity import throttle
from identity.addresses import client_address
from identity.usernames import resolve_login
from introspection import authentication
from introspection.authentication import Caller
from introspection.errors import AuthenticationFailed
from tenants.models import Tenant


@dataclass
class Claim:
    """What an ``Authorization`` value claims: the throttling identities, and whether it is the
    credential of a cached caller (verified before: checking it again costs nothing)."""

    identities: list[str] = field(default_factory=list)
    known: bool = False


def check_caller(
    request: HttpRequest, handler_names: tuple[str, ...]
) -> tuple[throttle.Attempt | None, list[str]]:
    """Return the checked attempt of the request's credential (None when there is nothing to
    count: no credential, or a cached caller) and the identities it claims. Raises ``Throttled``
    over the limits, for a cached caller when its address or its identity is blocked
    (``throttle.refuse_blocked``)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None, []

    def app_tenant() -> Tenant | None:
        try:
            return authentication.app_tenant(request)
        except AuthenticationFailed:
            return None

    claim = claimed_identities(header, handler_names, app_tenant)
    if claim.known:
        throttle.refuse_blocked(request, identities=claim.identities)
        return None, claim.identities
    return throttle.check(request, *claim.identities), claim.identities


def caller_blocks(
    request: HttpRequest, caller: Caller | None, claimed: list[str]
) -> tuple[tuple[str, str], ...]:
    """Return the blocks that refuse ``caller``'s next request like this one, as Django's path
    refuses a cached caller: its address's and its own identity's among the ``claimed`` ones;
    none without a credential (never throttled). A replayed answer checks them
    (``introspection/replay.py``)."""
    if caller is None or caller.kind == "anonymous":
        return ()
    own = [identity for identity in claimed if identity.partition("\0")[0] == caller.kind]
    return throttle.block_keys(client_address(request.META), own)


def claimed_identities(
    header: str, handler_names: tuple[str, ...], app_tenant: Callable[[], Tenant | None]
) -> Claim:
    """Return what an ``Authorization`` value claims under ``handler_names``: its throttling
    identities (none for a scheme no handler reads, or a malformed one: counted against the
    address alone), and whether it is the credential of a cached caller (then its identity alone).

    ``app_tenant()`` is a client caller's tenant (None: an unknown ``appTenant``); it is asked
    only when a Basic client credential is accepted. Shared by Django's path
    (:func:`check_caller`) and the layer that refuses a blocked address before Django
    (``introspection/throttle_gate.py``).
    """
    scheme, _, payload = header.strip().partition(" ")
    scheme, payload = scheme.lower(), payload.strip()
    claim = Claim()
    if scheme == "bearer" and BEARER_HANDLER in handler_names and payload:
        identity = throttle.bearer_identity(payload)
        if authentication.is_known("bearer", payload):
            return Claim([identity], known=True)
        claim.identities.append(identity)
    elif scheme == "basic":
        try:
            login, secret = authentication.basic_credentials(payload, form_encoded=False)
        except AuthenticationFailed:
            login = ""  # malformed: counted against the address alone
        if login and BASIC_USER_HANDLER in handler_names:
            resolved = resolve_login(login)
            identity = (
                throttle.user_identity(resolved[0].domain, resolved[1])
                if resolved
                else throttle.user_identity("", login)
            )
            if authentication.is_known("user", login, secret):
                return Claim([identity], known=True)
            claim.identities.append(identity)
        if login and BASIC_CLIENT_HANDLER in handler_names:
            client_id, client_secret = unquote_plus(login), unquote_plus(secret)
            tenant = app_tenant()
            identity = throttle.client_identity(tenant.domain if tenant else "", client_id)
            if tenant is not None and authentication.is_known(
                "client", str(tenant.pk), client_id, client_secret
            ):
                return Claim([identity], known=True)
            claim.identities.append(identity)
    return claim
