"""JWT access tokens (RFC 9068) for clients with ``token_format = "jwt"`` (docs/clients-and-grants.md).

The JWT is signed with the tenant's current key and, like an opaque token, recorded by the
digest of its whole text, so introspection and revocation treat both alike. Its ``jti`` is the
recorded row's. For a client with ``run_introspection_script_before_jwt_creation`` the
introspection scripts bound to it run on the claims first (docs/scripts.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.utils import timezone
from oauthlib.common import generate_token

from deployment.current import get_deployment
from identity.oauth.issuer import issuer
from identity.oauth.scripts import ScriptContext, run_scripts, scripts_for
from identity.oauth.subject import user_subject
from identity.oauth.toolkit_adapter import requested_resources
from identity.signing import sign

TYP = "at+jwt"  # RFC 9068 §2.1


class AccessTokenGenerator:
    """oauthlib's ``token_generator``: an opaque random token, or an RFC 9068 JWT."""

    def __init__(self, request_validator):
        self.validator = request_validator

    def __call__(self, request) -> str:
        client = request.client
        if client.token_format != client.TokenFormat.JWT:
            return generate_token()
        claims = self.claims(request, jti=uuid.uuid4(), issued_at=timezone.now())
        return sign(client.tenant, claims, TYP)

    def claims(self, request, jti: uuid.UUID, issued_at: datetime) -> dict:
        """RFC 9068 §2.2: the claims of the JWT access token being issued for ``request``; its
        row records ``jti``, ``iat`` and ``aud`` from them (identity.oauth.toolkit_adapter)."""
        client, deployment = request.client, get_deployment()
        audience = (
            requested_resources(self.validator, request) or list(client.audiences) or [client.client_id]
        )
        user = request.client.user if request.grant_type == "client_credentials" else request.user
        now = int(issued_at.timestamp())
        claims = {
            # The issuer as this request reached us, as discovery names it (RFC 9068 §4).
            "iss": issuer(client.tenant, self.validator.build_http_request(request)),
            "sub": (
                client.client_id
                if request.grant_type == "client_credentials" or user is None
                else user_subject(user, client, deployment.oauth)
            ),
            "aud": audience[0] if len(audience) == 1 else audience,
            "client_id": client.client_id,
            "iat": now,
            "exp": now + request.expires_in,
            "jti": str(jti),
        }
        if request.scopes:
            claims["scope"] = " ".join(request.scopes)
        if client.run_introspection_script_before_jwt_creation:
            context = ScriptContext(
                tenant=client.tenant, client=client, user=user, scopes=tuple(request.scopes or ())
            )
            claims = run_scripts(claims, context, scripts_for(client, deployment), rfc9068_problem)
            claims["jti"] = str(jti)  # the token's identity: not a script's to change
        return claims


def rfc9068_problem(claims: dict) -> str | None:
    """Return what keeps ``claims`` from being those of an RFC 9068 access token the server can
    record (its row's audience is the ``aud`` claim), or None."""
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not audiences or not all(isinstance(entry, str) for entry in audiences):
        return "left 'aud' not a string or a list of strings (RFC 9068 §2.2)"
    if any("\x00" in entry for entry in audiences):
        return "put a NUL in 'aud' (the database refuses it)"
    if not isinstance(claims.get("sub"), str):
        return "left 'sub' not a string (RFC 9068 §2.2)"
    if not isinstance(claims.get("scope", ""), str):
        return "left 'scope' not a string (RFC 9068 §2.2.3)"
    return None
