"""Authenticate users of a tenant with Django's password hashers (docs/admin.md)."""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend

from identity.models import User
from identity.usernames import resolve_login


class TenantUserBackend(BaseBackend):
    """``username`` is ``user@tenant`` or a bare name in ``tenant`` (default: the super tenant)."""

    def authenticate(self, request, username=None, password=None, tenant=None, **kwargs):
        if username is None or password is None:
            return None
        # No stored name holds a NUL, and PostgreSQL refuses one in a query (DataError, a 500).
        resolved = resolve_login(username, default_tenant=tenant) if "\x00" not in username else None
        user = None
        if resolved is not None:
            user = User.objects.for_tenant(resolved[0]).filter(username=resolved[1]).first()
        if user is None:
            # Hash anyway, so an unknown user takes as long as a wrong password
            # (Django ticket #20760: no user enumeration by timing).
            User().set_password(password)
            return None
        if user.check_password(password) and user.can_authenticate:
            return user
        return None

    def get_user(self, user_id):
        user = User.objects.all_tenants().select_related("tenant").filter(pk=user_id).first()
        return user if user is not None and user.can_authenticate and user.tenant.active else None
