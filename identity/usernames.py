"""Usernames: what they may be, and how a login name resolves to a tenant and username.

``admin`` is the super tenant's admin (or, where a tenant is implied, as at
``/t/foo.com/oauth2/token``, that tenant's); ``admin@foo.com`` is foo.com's. A login splits at
its **last** ``@``: ``bob@example.org@foo.com`` is ``bob@example.org`` of foo.com. A name whose
part after the last ``@`` is not a tenant domain is a whole username (``bob@example.org``).

A username never ends in ``@<domain of a tenant>`` (it would pass for that tenant's user, and
show as such in ``sub``), and contains no ``@`` at all unless ``[tenant] email_usernames = true``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from deployment.current import get_deployment
from tenants.models import Tenant


def validate_username(username: str) -> None:
    """Raise ValidationError unless ``username`` may name a user of any tenant."""
    if "@" not in username:
        return
    if not get_deployment().tenant.email_usernames:
        raise ValidationError(
            "a username may not contain @ (usernames are given as username@tenant when signing in; "
            "[tenant] email_usernames = true allows e-mail addresses)",
            code="username_at",
        )
    domain = username.rpartition("@")[2]
    if Tenant.objects.filter(domain__iexact=domain).exists():
        raise ValidationError(
            f"a username may not end in @{domain}, the domain of a tenant", code="username_domain"
        )


def validate_new_tenant_domain(domain: str) -> None:
    """Raise ValidationError if usernames already end in ``@domain``: an e-mail username taken
    before the tenant existed would then pass for that tenant's user (and show as such)."""
    from identity.models import User  # the models import this module's validator

    if User.objects.all_tenants().filter(username__iendswith="@" + domain).exists():
        raise ValidationError(f"usernames of existing users end in @{domain}", code="domain_of_usernames")


def resolve_login(login: str, default_tenant: Tenant | None = None) -> tuple[Tenant, str] | None:
    """Return ``(tenant, username)`` for ``login``, or None when its tenant is unknown or inactive.

    ``default_tenant`` is the tenant of a bare username; the super tenant when not given.
    """
    name, at, domain = login.rpartition("@")
    if at and name:
        tenant = Tenant.objects.get_by_domain(domain)
        if tenant is not None:
            return (tenant, name) if tenant.active else None
    tenant = default_tenant or Tenant.objects.super_tenant()
    return (tenant, login) if tenant.active else None
