"""Requests and signature checks shared by the JWT and introspection-script tests
(docs/clients-and-grants.md, docs/introspection.md).

Requests go through Django's test client over "HTTPS". Every JWS is verified with jwcrypto, a
JOSE library independent of the PyJWT the server signs with, against the tenant's JWKS as
the server publishes it at ``/t/<tenant>/oauth2/jwks``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from jwcrypto import jwk, jws

from identity.bootstrap import DEMO_CLIENT
from identity.models import AccessToken
from identity.models.tokens import token_checksum
from identity.services.clients import ClientSpec, create_client
from tenants.models import Tenant
from tests.support.auth import basic_auth

DEMO = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)
SUPER = "carbon.super"
ACCESS_TOKEN_TYP = "at+jwt"  # RFC 9068 §2.1
RESPONSE_TYP = "token-introspection+jwt"  # RFC 9701 §5
JWT_CONTENT_TYPE = "application/token-introspection+jwt"


def origin() -> str:
    """``https://host:port`` of the [server] the tests run with (the repository's file)."""
    server = settings.DEPLOYMENT.server
    return f"https://{server.hostname}:{server.port}"


def prefix(domain: str) -> str:
    """The path prefix of ``domain``: none for the super tenant (docs/architecture.md)."""
    return "" if domain == SUPER else f"/t/{domain}"


def issuer_of(domain: str) -> str:
    return origin() + prefix(domain)


def jwt_client(tenant: Tenant, client_id: str, **spec) -> tuple[str, str]:
    """Create a client with JWT access tokens; return ``(client_id, secret)``."""
    spec.setdefault("grant_types", ["client_credentials"])
    spec.setdefault("token_format", "jwt")
    created, secret = create_client(tenant, ClientSpec(name=client_id, client_id=client_id, **spec))
    return created.client_id, secret


def issue(client, domain: str, data: dict, credentials: tuple[str, str] = DEMO) -> dict:
    """Return the body of a successful token response of ``domain``'s token endpoint."""
    response = client.post(
        f"{prefix(domain)}/oauth2/token", data, secure=True, headers=basic_auth(*credentials)
    )
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def revoke(client, domain: str, token: str, credentials: tuple[str, str] = DEMO, **extra):
    """POST ``token`` to ``domain``'s revocation endpoint (RFC 7009 §2.1)."""
    return client.post(
        f"{prefix(domain)}/oauth2/revoke",
        {"token": token, **extra},
        secure=True,
        headers=basic_auth(*credentials),
    )


def introspect(client, domain: str, data: dict, headers: dict, method: str = "POST"):
    """Call ``domain``'s introspection endpoint with form (POST) or query (GET) ``data``."""
    call = client.post if method == "POST" else client.get
    return call(f"{prefix(domain)}/oauth2/introspect", data, secure=True, headers=headers)


def json_of(response) -> dict:
    """Return the body of an RFC 7662 JSON response, checking its headers
    (docs/introspection.md#responses)."""
    assert response["Content-Type"] == "application/json", response.content
    return json.loads(response.content)


def stored(access_token: str) -> AccessToken:
    """Return the row recorded for ``access_token`` (whatever its tenant)."""
    return AccessToken.objects.all_tenants().get(token_checksum=token_checksum(access_token))


def fetch_jwks(client, domain: str) -> jwk.JWKSet:
    """Return the tenant's JWKS as ``GET {issuer}/oauth2/jwks`` serves it."""
    response = client.get(f"{prefix(domain)}/oauth2/jwks", secure=True)
    assert response.status_code == 200
    return jwk.JWKSet.from_json(response.content)


@dataclass(frozen=True)
class Verified:
    header: dict
    claims: dict


def verify(client, domain: str, compact: str, typ: str) -> Verified:
    """Verify the compact JWS ``compact`` with ``domain``'s published keys (jwcrypto), check
    its ``typ``, and return its header and claims. Raises when the signature does not verify."""
    assert compact.count(".") == 2, "not a compact JWS"
    keys = fetch_jwks(client, domain)
    signed = jws.JWS()
    signed.deserialize(compact)
    signed.allowed_algs = ["RS256", "ES256"]
    signed.verify(keys)  # picks the key by the header's kid; raises InvalidJWSSignature
    header = signed.jose_header
    assert header["typ"] == typ
    assert keys.get_key(header["kid"]) is not None
    return Verified(header=header, claims=json.loads(signed.payload))


def no_nulls(value) -> bool:
    """Return whether ``value`` holds no ``null`` at any depth (docs/introspection.md#responses)."""
    if value is None:
        return False
    if isinstance(value, dict):
        return all(no_nulls(item) for item in value.values())
    if isinstance(value, list):
        return all(no_nulls(item) for item in value)
    return True
