"""The introspection endpoint's errors (RFC 7662 §2.3, RFC 6750 §3.1, the WSO2 document)."""

from __future__ import annotations

from typing import Any

from tenants.errors import ApiError


class InvalidInput(ApiError):
    """A missing or empty ``token``: WSO2's exact answer."""

    status = 400
    error = "Invalid input"

    def body(self) -> dict[str, Any]:
        return {"error": self.error}


class UnreadableRequest(ApiError):
    """A body or query Django refuses to parse (too large, too many fields): still JSON (docs/jwt.md)."""

    status = 400
    error = "invalid_request"
    description = "the request has too many parameters or is too large"


class AuthenticationFailed(ApiError):
    """Missing, malformed or wrong credentials: one answer whatever was wrong
    (docs/introspection.md#callers)."""

    status = 401
    error = "invalid_client"
    description = "valid credentials are required to introspect tokens"


class CallerTenantRefused(AuthenticationFailed):
    """Gate 1: the caller's tenant may not use this tenant's endpoint. Answered exactly like
    wrong credentials; only the audit trail tells the two apart."""


class PermissionDenied(ApiError):
    """Gate 2: an authenticated caller without the permission or scope (docs/introspection.md#the-gates)."""

    status = 403
    error = "access_denied"


class InsufficientScope(PermissionDenied):
    error = "insufficient_scope"


class MethodNotAllowed(ApiError):
    """A method the endpoint does not take (RFC 9110 §15.5.6: the answer lists those it does)."""

    status = 405
    error = "invalid_request"

    def __init__(self, allowed: tuple[str, ...]):
        why = "" if "GET" in allowed else " ([oauth.introspect] allow_get = false)"
        super().__init__(f"use {' or '.join(allowed)}{why}", headers={"Allow": ", ".join(allowed)})
