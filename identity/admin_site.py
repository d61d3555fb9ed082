"""The admin site itself: its titles, its sign-in hint, and what it must not offer."""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404

from identity import throttle
from tenants.errors import error_response


def no_view_on_site(request, **kwargs):
    """Answer 404 at /admin/r/<content type>/<id>/ (Django's "view on site" redirect).

    That view finds the row by id in every tenant, and would tell a tenant admin which ids
    exist elsewhere; no row here has a page outside the admin anyway (docs/admin.md).
    """
    raise Http404("no page outside the admin")


class IdentityAdminSite(admin.AdminSite):
    """The admin site (``admin.site``, through ``identity.apps.IdentityAdminConfig``)."""

    site_header = "Identity Server"
    site_title = "Identity Server"
    index_title = "Administration"
    login_template = "identity/admin/login.html"
    site_url = None  # no public site to link to
    enable_nav_sidebar = False  # the lists need the width; the index lists every model

    def login(self, request, extra_context=None):
        """Django's sign-in page; failed sign-ins are throttled like every credential check."""
        if request.method != "POST" or not request.POST.get("username"):
            return super().login(request, extra_context)
        try:
            # A bare name is the super tenant's, as the backend reads it.
            attempt = throttle.check(request, throttle.login_identity(request.POST["username"]))
        except throttle.Throttled as exc:
            return error_response(exc)
        response = super().login(request, extra_context)
        if response.status_code == 302 and request.user.is_authenticated:
            attempt.succeeded()
        else:  # the form is shown again: wrong credentials, or not staff
            attempt.failed()
        return response
