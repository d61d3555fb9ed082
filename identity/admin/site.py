"""The admin site itself: its titles, its sign-in hint, and what it must not offer."""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.auth.models import Group
from django.http import Http404

from identity import throttle
from identity.errors import error_response

admin.site.site_header = "Identity Server"
admin.site.site_title = "Identity Server"
admin.site.index_title = "Administration"
admin.site.login_template = "identity/admin/login.html"
admin.site.site_url = None  # no public site to link to
admin.site.enable_nav_sidebar = False  # the lists need the width; the index lists every model

# Django's groups are global, not a tenant's: users get permissions through roles (§4).
admin.site.unregister(Group)


def no_view_on_site(request, **kwargs):
    """Answer 404 at /admin/r/<content type>/<id>/ (Django's "view on site" redirect).

    That view finds the row by id in every tenant, and would tell a tenant admin which ids
    exist elsewhere; no row here has a page outside the admin anyway (SPEC §8).
    """
    raise Http404("no page outside the admin")


def _throttled_login(login):
    """Wrap the admin's login view: failed sign-ins are throttled like every credential check."""

    @functools.wraps(login)
    def view(request, extra_context=None):
        if request.method != "POST" or not request.POST.get("username"):
            return login(request, extra_context)
        try:
            # A bare name is the super tenant's, as the backend reads it.
            attempt = throttle.check(request, throttle.login_identity(request.POST["username"]))
        except throttle.Throttled as exc:
            return error_response(exc)
        response = login(request, extra_context)
        if response.status_code == 302 and request.user.is_authenticated:
            attempt.succeeded()
        else:  # the form is shown again: wrong credentials, or not staff
            attempt.failed()
        return response

    return view


admin.site.login = _throttled_login(admin.site.login)
