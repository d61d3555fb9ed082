"""The sign-in page of a tenant (``/t/<tenant>/login/``), for the authorization endpoint.

Only users of the path's tenant can sign in here: ``alice`` means the tenant's alice, and
``alice@other.tenant`` is refused.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView

from tenants import get_current_tenant


class TenantAuthenticationForm(AuthenticationForm):
    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            tenant = get_current_tenant(self.request)
            user = authenticate(self.request, username=username, password=password, tenant=tenant)
            if user is None or user.tenant_id != tenant.id:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(user)
            self.user_cache = user
        return self.cleaned_data


class TenantLoginView(LoginView):
    form_class = TenantAuthenticationForm
    template_name = "identity/login.html"
    redirect_authenticated_user = False

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "tenant": get_current_tenant(self.request)}
