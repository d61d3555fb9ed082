"""The admin site itself: its titles, its sign-in hint, and what it must not offer."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group
from django.http import Http404

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
