"""Tenant-scoped querysets that refuse to run without a tenant (docs/architecture.md).

``Model.objects.for_tenant(t)`` is the normal way in. A queryset that was never scoped raises
:class:`TenantScopeError` when it reaches the database, instead of silently reading every
tenant's rows. ``all_tenants()`` is the explicit, greppable way out (super-tenant admin,
maintenance commands). ``use_tenant(t)`` scopes the queries of code we do not own (the OAuth
library) to one tenant.
"""

from __future__ import annotations

import contextlib
import contextvars

from django.db import models

from tenants.announcing import AnnouncingQuerySet

# The tenant that third-party code (django-oauth-toolkit's validator) runs for. Set only by
# ``use_tenant`` around such a call; our own code passes the tenant explicitly.
_scope: contextvars.ContextVar = contextvars.ContextVar("tenant_scope", default=None)


@contextlib.contextmanager
def use_tenant(tenant):
    """Confine every tenant-owned query made inside the block to ``tenant``."""
    if tenant is None:
        raise TenantScopeError("use_tenant() needs a tenant, got None")
    token = _scope.set(tenant)
    try:
        yield tenant
    finally:
        _scope.reset(token)


class TenantScopeError(RuntimeError):
    """A query on tenant-owned rows was about to run with no tenant."""


_TENANT_KEYS = ("tenant", "tenant_id", "tenant__id", "tenant__domain", "tenant__in", "tenant_id__in")


class TenantQuerySet(AnnouncingQuerySet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tenant_scoped = False

    def _clone(self):
        clone = super()._clone()  # type: ignore[misc]  # Django's private API: not in the stubs
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def for_tenant(self, tenant) -> TenantQuerySet:
        """Return the rows of ``tenant`` only."""
        if tenant is None:
            raise TenantScopeError(f"{self.model.__name__}.objects.for_tenant() needs a tenant, got None")
        clone = self.filter(tenant=tenant)
        return clone

    def all_tenants(self) -> TenantQuerySet:
        """Return rows of every tenant: for the super tenant's admin and maintenance only."""
        clone = self._chain()  # type: ignore[attr-defined]  # Django's private API: not in the stubs
        clone._tenant_scoped = True
        return clone

    # Combining with an unscoped queryset would widen to every tenant: the result is scoped only
    # when every part is. (`&` narrows, so it keeps the left side's scope.)
    def __or__(self, other):
        return self._combined(super().__or__(other), self, other)

    def __xor__(self, other):
        return self._combined(super().__xor__(other), self, other)

    def union(self, *other_qs, all=False):
        return self._combined(super().union(*other_qs, all=all), self, *other_qs)

    @staticmethod
    def _combined(result, *parts):
        result = result._chain()
        result._tenant_scoped = all(getattr(part, "_tenant_scoped", False) for part in parts)
        return result

    def _filter_or_exclude(self, negate, args, kwargs):
        clone = super()._filter_or_exclude(negate, args, kwargs)  # type: ignore[misc]  # private, as above
        # A filter on the tenant (not an exclusion, not None) scopes the queryset.
        if not negate and any(kwargs.get(key) is not None for key in _TENANT_KEYS):
            clone._tenant_scoped = True
        return clone

    def _require_scope(self) -> None:
        if not self._tenant_scoped:
            raise TenantScopeError(
                f"query on {self.model.__name__} without a tenant; use "
                f"{self.model.__name__}.objects.for_tenant(tenant) (or .all_tenants() on purpose)"
            )

    def _fetch_all(self):
        if self._result_cache is None:
            self._require_scope()
        super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._require_scope()
        return super().iterator(*args, **kwargs)

    def count(self):
        if self._result_cache is None:
            self._require_scope()
        return super().count()

    def exists(self):
        if self._result_cache is None:
            self._require_scope()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._require_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._require_scope()
        return super().update(**kwargs)

    def delete(self):
        self._require_scope()
        return super().delete()


class TenantScopedManagerMixin:
    """Make a manager's querysets tenant-scoped (mix into any manager built on TenantQuerySet)."""

    def get_queryset(self) -> TenantQuerySet:
        queryset = super().get_queryset()  # type: ignore[misc]  # a mixin: the manager has it
        scope = _scope.get()
        if scope is not None:
            return queryset.for_tenant(scope)
        # Related managers (tenant.users, user.roles, ...) hang off one tenant-owned row, so
        # what they return is already confined to that row's tenant.
        if getattr(self, "instance", None) is not None:
            queryset._tenant_scoped = True
        return queryset


_TenantManagerBase = models.Manager.from_queryset(TenantQuerySet)


class TenantScopedManager(TenantScopedManagerMixin, _TenantManagerBase):
    """Default manager of tenant-owned models."""
