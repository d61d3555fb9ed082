"""The sign-in page of a tenant (``/t/<tenant>/login/``), for the authorization endpoint.

Only users of the path's tenant can sign in here: ``alice`` means the tenant's alice, and
``alice@other.tenant`` is refused. Failed sign-ins are throttled like every credential check
(docs/security.md#throttling): past the limits the page answers 429 with ``Retry-After``
(RFC 6585 §4) before any password is hashed.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView

from identity import throttle
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

    def post(self, request, *args, **kwargs):
        username, password = request.POST.get("username"), request.POST.get("password")
        if not username or not password:  # no credential is checked: nothing to count
            return super().post(request, *args, **kwargs)
        identity = throttle.login_identity(username, default_tenant=get_current_tenant(request))
        try:
            attempt = throttle.check(request, identity)
        except throttle.Throttled as exc:
            return self.throttled(exc)
        response = super().post(request, *args, **kwargs)
        if response.status_code == 302:  # signed in, on the way back to the authorization request
            attempt.succeeded()
        else:  # the form is shown again: wrong credentials, or a user who may not sign in
            attempt.failed()
        return response

    def throttled(self, exc: throttle.Throttled):
        """Show the form again, unchecked, as 429 with ``Retry-After``: a page, for a browser."""
        form = self.get_form_class()(self.request, initial={"username": self.request.POST["username"]})
        response = self.render_to_response(self.get_context_data(form=form, retry_after=exc.retry_after))
        response.status_code = exc.status  # LoginView's never_cache adds Cache-Control: no-store
        for name, value in exc.headers.items():
            response[name] = value
        return response
