"""The Tenant: a domain with its own users, roles, clients, tokens and keys (docs/architecture.md)."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from deployment.current import get_deployment
from deployment.domains import is_tenant_domain
from tenants.announcing import Announced, AnnouncingQuerySet
from tenants.cache import Tag, cached


def validate_domain(value: str) -> None:
    """Refuse anything but a lower-case DNS-style domain (``foo.com``, ``carbon.super``)."""
    if not is_tenant_domain(value):
        raise ValidationError(
            f"'{value}' is not a valid tenant domain (lower-case letters, digits, '-' and '.')"
        )


_TenantManagerBase = models.Manager.from_queryset(AnnouncingQuerySet)


class TenantManager(_TenantManagerBase):
    def get_by_domain(self, domain: str) -> Tenant | None:
        """Return the tenant with ``domain`` (active or not), or None; cached (tenants.cache)."""
        if not is_tenant_domain(domain):
            return None
        return self._cached("domain", domain, domain=domain)

    def get_by_id(self, pk: int) -> Tenant | None:
        """Return the tenant with primary key ``pk`` (active or not), or None; cached."""
        return self._cached("id", pk, pk=pk)

    def _cached(self, by: str, key: str | int, **lookup) -> Tenant | None:
        # An unknown domain is kept as None too: creating any tenant names ("tenants",).
        return cached(f"tenant-{by}", key, lambda: self._first(**lookup), lambda tenant: [("tenants",)])

    def _first(self, **lookup: str | int) -> Tenant | None:
        return cast("Tenant | None", self.filter(**lookup).first())

    def get_active(self, domain: str) -> Tenant | None:
        """Return the active tenant with ``domain``, or None."""
        tenant = self.get_by_domain(domain)
        return tenant if tenant is not None and tenant.active else None

    def super_tenant(self) -> Tenant:
        """Return the super tenant (``[tenant] super_tenant_domain``); it must exist."""
        domain = get_deployment().tenant.super_tenant_domain
        tenant = self.get_by_domain(domain)
        if tenant is None:
            raise Tenant.DoesNotExist(
                f"the super tenant '{domain}' does not exist; run `manage.py bootstrap`"
            )
        return tenant


class Tenant(Announced):
    owner_tags = ()
    domain = models.CharField(max_length=253, unique=True, validators=[validate_domain])
    name = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    # The admin made with the tenant (`createtenant --admin`, `bootstrap`): who owns a client
    # created without an owner. Recorded, not found by a role's name, which anyone may rename
    # or give; unset when that user is deleted.
    admin = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = TenantManager()

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def change_tags(self) -> list[Tag]:
        return [("t", self.pk), ("tenants",)]

    @property
    def is_super(self) -> bool:
        return self.domain == get_deployment().tenant.super_tenant_domain

    @property
    def path_prefix(self) -> str:
        """Return the URL prefix of this tenant's endpoints: '' for the super tenant, else /t/<domain>."""
        return "" if self.is_super else f"/t/{self.domain}"
