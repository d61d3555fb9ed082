"""Errors as data: each carries its HTTP status, ``error`` code and description, and is
rendered to a JSON response in one place (:func:`error_response`), as RFC 6749 §5.2 shapes them."""

from __future__ import annotations

from django.http import JsonResponse


class ApiError(Exception):
    status = 400
    error = "invalid_request"
    description = ""

    def __init__(self, description: str = "", *, headers: dict[str, str] | None = None):
        super().__init__(description or self.description)
        if description:
            self.description = description
        self.headers = headers or {}

    def body(self) -> dict:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class UnknownTenant(ApiError):
    status = 404
    error = "invalid_tenant"

    def __init__(self, domain: str):
        super().__init__(f"tenant domain '{domain}' does not exist or is not active")
        self.domain = domain

    def body(self) -> dict:
        return {**super().body(), "tenant_domain": self.domain}


class NoSuperTenant(ApiError):
    status = 503
    error = "temporarily_unavailable"
    description = "the super tenant does not exist yet; run `manage.py bootstrap`"


class InsecureTransport(ApiError):
    status = 403
    error = "insecure_transport"
    description = "this resource requires HTTPS ([[resource.access_control]] secure = true)"


def error_response(exc: ApiError) -> JsonResponse:
    """Render ``exc`` as its JSON response, never cached (RFC 6749 §5.1 asks no-store)."""
    response = JsonResponse(exc.body(), status=exc.status)
    response["Cache-Control"] = "no-store"
    for name, value in exc.headers.items():
        response[name] = value
    return response
