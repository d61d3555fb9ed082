"""Throttling at the token and revocation endpoints: the client authenticating (RFC 6749 §2.3)
and, for the password grant (RFC 6749 §4.3), the user (docs/security.md)."""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import unquote_plus

from django.http import HttpResponse

from identity import throttle
from tenants.models import Tenant


def client_id_of(request) -> str:
    """Return the client id a request authenticates as: Basic (RFC 6749 §2.3.1) or ``client_id``."""
    scheme, _, payload = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(payload.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return ""
        return unquote_plus(decoded.partition(":")[0])
    return request.POST.get("client_id", "")


def user_of(request, tenant: Tenant) -> str:
    """Return the throttling identity of the password grant's ``username``, or ''."""
    login = request.POST.get("username", "")
    if request.POST.get("grant_type") != "password" or not login:
        return ""
    return throttle.login_identity(login, default_tenant=tenant)


def guarded(request, tenant: Tenant, respond) -> HttpResponse:
    """Check the throttle, call ``respond()``, and count its answer as a success or a failure.

    Raises ``Throttled`` before ``respond`` (which checks secrets and passwords) when over a limit.
    """
    client = throttle.client_identity(tenant.domain, client_id_of(request))
    user = user_of(request, tenant)
    attempt = throttle.check(request, *(identity for identity in (client, user) if identity))
    response = respond()
    if response.status_code == 401:  # invalid_client (RFC 6749 §5.2)
        attempt.failed(client)
    elif user and response.status_code == 400 and _error(response) == "invalid_grant":
        attempt.failed(user)  # the password grant's wrong username or password
    elif response.status_code == 200:
        attempt.succeeded()
    return response


def _error(response: HttpResponse) -> str:
    try:
        return json.loads(response.content).get("error", "")
    except (ValueError, AttributeError):
        return ""
