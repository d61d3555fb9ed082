"""The OAuth 2.0 endpoints of a tenant: token (RFC 6749 §3.2), revocation (RFC 7009) and
authorization (RFC 6749 §3.1, with PKCE, RFC 7636), on django-oauth-toolkit.

Each runs the toolkit inside ``use_tenant(tenant)``: the clients, codes and tokens it can see
are the endpoint's tenant's only.
"""

from __future__ import annotations

import json

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.urls import reverse
from oauth2_provider import views as toolkit

from identity.models.clients import GRANT_TYPES
from tenants import get_current_tenant
from tenants.managers import use_tenant


class TokenView(toolkit.TokenView):
    def post(self, request, *args, **kwargs) -> HttpResponse:
        grant_type = request.POST.get("grant_type", "")
        if grant_type not in GRANT_TYPES:
            return _token_error("unsupported_grant_type", f"use one of {', '.join(GRANT_TYPES)}")
        with use_tenant(get_current_tenant(request)):
            response = super().post(request, *args, **kwargs)
        return _without_empty_scope(response)


class RevokeTokenView(toolkit.RevokeTokenView):
    def post(self, request, *args, **kwargs) -> HttpResponse:
        with use_tenant(get_current_tenant(request)):
            return super().post(request, *args, **kwargs)


class AuthorizationView(toolkit.AuthorizationView):
    """The consent page. Only a user of the path's tenant may authorize its clients."""

    def get_login_url(self) -> str:
        return reverse("tenant-login")

    def dispatch(self, request, *args, **kwargs):
        tenant = get_current_tenant(request)
        if request.user.is_authenticated and request.user.tenant_id != tenant.id:
            return redirect_to_login(request.get_full_path(), self.get_login_url())
        with use_tenant(tenant):
            return super().dispatch(request, *args, **kwargs)


def _without_empty_scope(response: HttpResponse) -> HttpResponse:
    """Send ``scope`` only when the token has one, as the WSO2 document shows (§5)."""
    if response.status_code != 200 or b'"scope"' not in response.content:
        return response
    body = json.loads(response.content)
    if body.get("scope") == "":
        del body["scope"]
        response.content = json.dumps(body)
    return response


def _token_error(error: str, description: str) -> HttpResponse:
    """An RFC 6749 §5.2 error response."""
    response = HttpResponse(
        json.dumps({"error": error, "error_description": description}),
        status=400,
        content_type="application/json",
    )
    response["Cache-Control"] = "no-store"
    return response
