"""JWT introspection responses (RFC 9701).

The response is a JWS signed with the path tenant's key: header ``typ:
token-introspection+jwt`` (RFC 9701 §5), claims ``iss``, ``aud`` (the caller, docs/jwt.md),
``iat``, ``exp``, ``jti`` and ``token_introspection``, which holds exactly the JSON response
(RFC 9701 §5), ``{"active": false}`` included. ``exp`` is :data:`LIFETIME` after ``iat``: the answer is
true now, and a resource server must not keep relying on it (docs/security.md).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse

from identity.oauth.issuer import issuer
from identity.signing import sign
from introspection.authentication import Caller
from introspection.negotiation import JWT
from tenants.models import Tenant

TYP = "token-introspection+jwt"
LIFETIME = 60  # seconds: a revocation must not be outlived for long by a stored answer


def jwt_response(
    claims: dict[str, Any], tenant: Tenant, caller: Caller, request: HttpRequest | None = None
) -> HttpResponse:
    """Return ``claims`` wrapped in an RFC 9701 JWT response of ``tenant``."""
    now = int(time.time())
    payload = {
        "iss": issuer(tenant, request),
        "iat": now,
        "exp": now + LIFETIME,
        "jti": str(uuid.uuid4()),
        "token_introspection": claims,
    }
    if caller.audience is not None:
        payload["aud"] = caller.audience
    response = HttpResponse(sign(tenant, payload, TYP), content_type=JWT)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response
