"""The admin site is our ``AdminSite`` subclass, installed through ``AdminConfig.default_site``
(identity.apps.IdentityAdminConfig), not Django's site changed on import."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group

from identity.admin_site import IdentityAdminSite
from identity.bootstrap import bootstrap
from identity.models import User


def test_admin_site_is_ours():
    assert isinstance(
        admin.site._wrapped if hasattr(admin.site, "_wrapped") else admin.site, IdentityAdminSite
    )


def test_groups_are_not_offered_users_are():
    assert not admin.site.is_registered(Group)
    assert admin.site.is_registered(User)


@pytest.mark.django_db
def test_the_sign_in_page_carries_our_titles(client):
    bootstrap()  # the super tenant, whose path /admin/ is
    page = client.get("/admin/login/", secure=True)
    assert page.status_code == 200
    assert page.context["site_header"] == "Identity Server"
    assert page.templates[0].name == "identity/admin/login.html"
