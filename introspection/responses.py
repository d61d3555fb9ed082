"""The introspection response (RFC 7662 §2.2; docs/introspection.md#responses).

Inactive, for any reason, is exactly ``{"active": false}``. Active lists the facts the token
has, never a ``null``: an absent fact is an absent key.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django.http import HttpResponse

from deployment import Deployment
from identity.models import AccessToken, RefreshToken
from identity.oauth.issuer import issuer_at
from identity.oauth.subject import subject_claims
from tenants.models import Tenant

INACTIVE = {"active": False}


def is_active(token: AccessToken | RefreshToken) -> bool:
    """Active: neither revoked nor expired, and its client, user and tenant may still act."""
    if not token.is_active() or token.application_id is None or not token.application.active:
        return False
    if token.user_id is not None and not token.user.can_authenticate:
        return False
    tenant = Tenant.objects.get_by_id(token.tenant_id)
    return tenant is not None and tenant.active


def active_claims(token: AccessToken | RefreshToken, deployment: Deployment, origin: str) -> dict[str, Any]:
    """Return the claims of an active ``token``, ``iss`` being its tenant's issuer at ``origin``
    (``identity.oauth.issuer.server_origin``, as the caller reaches this server)."""
    is_refresh = isinstance(token, RefreshToken)
    scope = (token.access_token.scope if token.access_token_id else "") if is_refresh else token.scope
    issued = int(token.created.timestamp())
    claims = {
        "active": True,
        "token_type": "Refresh" if is_refresh else "Bearer",
        "client_id": token.application.client_id,
        "scope": scope,
        "exp": int(token.expires.timestamp()) if token.expires else None,
        "iat": issued,
        "nbf": issued,
        **subject_claims(token, deployment.oauth),
        "aud": _audience(token.resource),
        # The token's tenant exists (a foreign key) and is active (is_active said so).
        "iss": issuer_at(origin, cast(Tenant, Tenant.objects.get_by_id(token.tenant_id))),
        "jti": str(token.jti),
    }
    return {key: value for key, value in claims.items() if value not in (None, "")}


def _audience(resource: list[str]) -> str | list[str] | None:
    """RFC 7662 §2.2: one audience as a string, several as a list, none as no claim."""
    if not resource:
        return None
    return resource[0] if len(resource) == 1 else list(resource)


def json_body(claims: dict[str, Any]) -> bytes:
    """The body of a JSON answer (``introspection/first_sight.py`` writes it too)."""
    return json.dumps(claims).encode()


def json_response(claims: dict[str, Any]) -> HttpResponse:
    """The response headers (docs/introspection.md#responses); RFC 7662 §2.2 responses must not be cached."""
    response = HttpResponse(json_body(claims), content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response
