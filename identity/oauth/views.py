"""The OAuth 2.0 endpoints of a tenant: token (RFC 6749 §3.2), revocation (RFC 7009) and
authorization (RFC 6749 §3.1, with PKCE, RFC 7636), on django-oauth-toolkit.

Each runs the toolkit inside ``use_tenant(tenant)``: the clients, codes and tokens it can see
are the endpoint's tenant's only.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, QueryDict
from django.urls import reverse
from oauth2_provider import views as toolkit
from oauth2_provider.forms import AllowForm

from identity.models import Client
from identity.models.clients import GRANT_TYPES
from identity.oauth.consent import has_consented
from identity.oauth.errors import UnsupportedGrantType
from identity.oauth.throttling import guarded
from identity.throttle import Throttled
from tenants import get_current_tenant
from tenants.errors import ApiError, error_response
from tenants.managers import use_tenant


class TokenView(toolkit.TokenView):
    def post(self, request, *args, **kwargs) -> HttpResponse:
        grant_type = request.POST.get("grant_type", "")
        if not grant_type:  # RFC 6749 §5.2: a missing parameter is invalid_request
            return error_response(ApiError("missing grant_type"))
        if grant_type not in GRANT_TYPES:
            return error_response(UnsupportedGrantType(f"use one of {', '.join(GRANT_TYPES)}"))
        tenant = get_current_tenant(request)
        try:
            with use_tenant(tenant):
                response = guarded(
                    request, tenant, lambda: super(TokenView, self).post(request, *args, **kwargs)
                )
        except Throttled as exc:
            return error_response(exc)
        # Some toolkit errors (RFC 8707 invalid_target) come without headers: RFC 6749 §5.1
        # asks JSON and no-store of every answer.
        response["Content-Type"] = "application/json"
        response["Cache-Control"] = "no-store"
        return _challenge(response, tenant)


class RevokeTokenView(toolkit.RevokeTokenView):
    def post(self, request, *args, **kwargs) -> HttpResponse:
        tenant = get_current_tenant(request)
        try:
            with use_tenant(tenant):
                response = guarded(
                    request, tenant, lambda: super(RevokeTokenView, self).post(request, *args, **kwargs)
                )
        except Throttled as exc:
            response = error_response(exc)
        return _challenge(_revocation_response(response), tenant)


class ConsentForm(AllowForm):
    # A request without `scope` gets no scope (ClientScopes.get_default_scopes): the toolkit's
    # form required one, so such a request could never be consented to.
    scope = forms.CharField(required=False, widget=forms.HiddenInput())
    # Whether the authorization request left redirect_uri out (the toolkit's form carries the
    # URI used either way); a form without it counts as naming one, the stricter rule.
    redirect_uri_defaulted = forms.BooleanField(required=False, widget=forms.HiddenInput())


class AuthorizationView(toolkit.AuthorizationView):
    """The consent page. Only a user of the path's tenant may authorize its clients."""

    form_class = ConsentForm

    def get_login_url(self) -> str:
        return reverse("tenant-login")

    def dispatch(self, request, *args, **kwargs):
        self.redirect_uri_defaulted = "redirect_uri" not in request.GET
        tenant = get_current_tenant(request)
        if request.user.is_authenticated and request.user.tenant_id != tenant.id:
            return redirect_to_login(request.get_full_path(), self.get_login_url())
        if request.method == "GET" and request.GET.get("approval_prompt") == "auto":
            request.GET = _without_silent_approval(request, tenant)
        with use_tenant(tenant):
            return super().dispatch(request, *args, **kwargs)

    def get_initial(self) -> dict:
        return {**super().get_initial(), "redirect_uri_defaulted": self.redirect_uri_defaulted}

    def form_valid(self, form):
        self.redirect_uri_defaulted = form.cleaned_data["redirect_uri_defaulted"]
        return super().form_valid(form)

    def create_authorization_response(self, request, scopes, credentials, allow):
        """Pass on whether redirect_uri was left out; the code's row records it
        (TenantOAuth2Validator.save_authorization_code, RFC 6749 §4.1.3)."""
        credentials["redirect_uri_defaulted"] = self.redirect_uri_defaulted
        return super().create_authorization_response(request, scopes, credentials, allow)


def _without_silent_approval(request, tenant) -> QueryDict:
    """Return the query, asking for the consent page unless the user consented before."""
    client = Client.objects.for_tenant(tenant).filter(client_id=request.GET.get("client_id", "")).first()
    scopes = set(request.GET.get("scope", "").split())
    if client is not None and has_consented(request.user, client, scopes):
        return request.GET
    query = request.GET.copy()
    query["approval_prompt"] = "force"
    return query


def _challenge(response: HttpResponse, tenant) -> HttpResponse:
    """RFC 6749 §5.2: an ``invalid_client`` answer (401) names the scheme a client
    authenticates with in a header, Basic (oauthlib's names Bearer, which no client can use here)."""
    if response.status_code == 401:
        response["WWW-Authenticate"] = f'Basic realm="{tenant.domain}"'
    return response


def _revocation_response(response: HttpResponse) -> HttpResponse:
    """Never cache an RFC 7009 §2.2 answer; an error is JSON, a success has no body (not HTML)."""
    response["Cache-Control"] = "no-store"
    if response.content:
        response["Content-Type"] = "application/json"
    else:
        del response["Content-Type"]
    return response
