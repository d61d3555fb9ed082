"""Confine the Django admin to the signed-in admin's tenant (docs/admin.md).

A super-tenant superuser (an operator) sees every tenant's rows. Anyone else who may use the
admin (a tenant admin: ``is_staff`` and ``/permission/admin`` in their own tenant) sees only
their tenant's rows: in lists, search, filters, autocomplete, related-object widgets and by
typed URL. :class:`TenantScopedAdmin` does it once for every model admin of tenant-owned rows;
the tenant-scoped managers (``tenants.managers``) make any query it forgets to scope fail.

Secret fields (a model's ``SECRET_FIELDS``: password hashes, private keys, secret and token
digests) are never a lookup, filter, search field, ordering or column, not even through a
relation: ``?private_key__gte=...`` is refused as Django refuses any disallowed lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404

from tenants.admin_writes import WriteSafeAdmin
from tenants.managers import TenantQuerySet, TenantScopedManagerMixin
from tenants.models import Tenant

TENANT_FIELD = "tenant"


def is_operator(user) -> bool:
    """Return whether ``user`` is a super-tenant superuser, who sees every tenant."""
    return bool(user.is_authenticated and user.is_active and user.is_superuser and user.tenant.is_super)


def admin_tenant(request) -> Tenant | None:
    """Return the tenant the admin user of ``request`` is confined to; None for an operator."""
    return None if is_operator(request.user) else request.user.tenant


def secret_fields(model: type[models.Model]) -> frozenset[str]:
    """Return the names of ``model``'s secret fields (its ``SECRET_FIELDS``)."""
    return frozenset(getattr(model, "SECRET_FIELDS", ()))


def touches_secret(model: type[models.Model], lookup: str) -> bool:
    """Return whether the lookup path ``lookup`` (``user__password__startswith``) reads a secret."""
    for part in lookup.lstrip("-=^@").split(LOOKUP_SEP):
        if part in secret_fields(model):
            return True
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a transform or lookup name: the fields are behind
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


def is_tenant_owned(model: type[models.Model]) -> bool:
    return isinstance(model._default_manager, TenantScopedManagerMixin)


def scoped(queryset: models.QuerySet, request) -> models.QuerySet:
    """Return ``queryset`` (of a tenant-owned model) narrowed to what the admin user of
    ``request`` may see."""
    rows = cast(TenantQuerySet, queryset)
    tenant = admin_tenant(request)
    return rows.all_tenants() if tenant is None else rows.for_tenant(tenant)


def scoped_rows(model: type[models.Model], request) -> models.QuerySet:
    """Return the rows of ``model`` the admin user of ``request`` may see."""
    return scoped(model._default_manager.get_queryset(), request).select_related(TENANT_FIELD)


class TenantRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A filter by a related tenant-owned row that offers the admin's own tenant's rows only."""

    def field_choices(self, field, request, model_admin):
        related = field.remote_field.model
        rows = scoped_rows(related, request)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            rows = rows.order_by(*ordering)
        return [(row.pk, str(row)) for row in rows]


class TenantScopedForm(forms.ModelForm):
    """A form for a tenant-owned row whose related rows must be of that row's tenant."""

    # The tenant admin's tenant, set by TenantScopedAdmin.get_form; None for operators, who
    # choose the tenant on the form.
    admin_tenant: Tenant | None = None
    # The signed-in admin, set by TenantScopedAdmin.get_form: forms check what it may grant.
    admin_user = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.admin_tenant is not None and self.instance.tenant_id is None:
            self.instance.tenant = self.admin_tenant

    def row_tenant(self) -> Tenant | None:
        if self.instance.tenant_id is not None:
            return self.instance.tenant
        return self.cleaned_data.get(TENANT_FIELD)

    def clean(self):
        super().clean()
        cleaned_data = self.cleaned_data
        tenant = self.row_tenant()
        if tenant is None:
            return cleaned_data
        for name, field in self.fields.items():
            if not isinstance(field, forms.ModelChoiceField) or not cleaned_data.get(name):
                continue
            value = cleaned_data[name]
            rows = value if isinstance(field, forms.ModelMultipleChoiceField) else [value]
            if any(getattr(row, "tenant_id", tenant.pk) != tenant.pk for row in rows):
                self.add_error(name, f"choose only rows of tenant {tenant.domain}")
        return cleaned_data

    def validate_unique(self):
        super().validate_unique()
        if TENANT_FIELD not in self.fields and self.instance.tenant_id is not None:
            # Django leaves out the constraints on fields that are not on the form; the tenant
            # is not on a tenant admin's form, yet (tenant, name) must stay unique.
            # Django's own private form API, as ModelForm.validate_unique uses it (not in the stubs).
            exclude = self._get_validation_exclusions() - {TENANT_FIELD}  # type: ignore[attr-defined]
            try:
                self.instance.validate_constraints(exclude=exclude)
            except ValidationError as error:
                self._update_errors(error)  # type: ignore[attr-defined]


class TenantScopedAdmin(WriteSafeAdmin):
    """A model admin for tenant-owned rows, confined to the signed-in admin's tenant.

    Operators also get a tenant column, filter and form field; tenant admins never choose a
    tenant: new rows are theirs.
    """

    form = TenantScopedForm
    # The form and fieldsets of the add page, when they differ from the change page's.
    add_form: type[forms.ModelForm] | None = None
    add_fieldsets: tuple | None = None
    # Fields that only operators see and set (the tenant always is one).
    operator_only_fields: tuple[str, ...] = ()

    # -- what can be read
    def lookup_allowed(self, lookup, value, request=None):
        if touches_secret(self.model, lookup):
            return False  # the change list answers 400, as for any disallowed lookup
        return super().lookup_allowed(lookup, value, request)

    def get_search_fields(self, request):
        return [f for f in super().get_search_fields(request) if not touches_secret(self.model, f)]

    def get_ordering(self, request):
        ordering = super().get_ordering(request) or ()
        return [f for f in ordering if not (isinstance(f, str) and touches_secret(self.model, f))]

    def get_sortable_by(self, request):
        columns = super().get_sortable_by(request)
        return [c for c in columns if not (isinstance(c, str) and touches_secret(self.model, c))]

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request)

    def get_object(self, request, object_id, from_field=None):
        """Answer 404 for a row of another tenant, exactly as for one that does not exist."""
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"no {self.opts.verbose_name} {object_id!r}")
        return obj

    def get_search_results(self, request, queryset, search_term):
        # The autocomplete view searches here too: scope again, whatever queryset came in.
        return super().get_search_results(request, scoped(queryset, request), search_term)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if is_tenant_owned(db_field.remote_field.model) and "queryset" not in kwargs:
            kwargs["queryset"] = self._related_rows(db_field, request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if is_tenant_owned(db_field.remote_field.model) and "queryset" not in kwargs:
            kwargs["queryset"] = self._related_rows(db_field, request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _related_rows(self, db_field, request) -> models.QuerySet:
        related = db_field.remote_field.model
        rows = scoped_rows(related, request).complex_filter(db_field.get_limit_choices_to())
        related_admin = self.admin_site._registry.get(related)
        ordering = related_admin.get_ordering(request) if related_admin is not None else ()
        return rows.order_by(*ordering) if ordering else rows

    def get_list_filter(self, request):
        filters = [
            self._scoped_filter(entry)
            for entry in super().get_list_filter(request)
            if not (isinstance(entry, str) and touches_secret(self.model, entry))
        ]
        return [TENANT_FIELD, *filters] if is_operator(request.user) else filters

    def _scoped_filter(self, entry):
        if not isinstance(entry, str):
            return entry  # a filter class, or (field, filter class): chosen on purpose
        field = get_fields_from_path(self.model, entry)[-1]
        if field.is_relation and field.related_model is not None and is_tenant_owned(field.related_model):
            return (entry, TenantRelatedFieldListFilter)
        return entry

    def get_list_display(self, request):
        columns = [
            c
            for c in super().get_list_display(request)
            if not (isinstance(c, str) and touches_secret(self.model, c))
        ]
        if is_operator(request.user) and TENANT_FIELD not in columns:
            columns.insert(1, TENANT_FIELD)
        return columns

    # -- the form
    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs.setdefault("form", self.add_form)
        form = cast(type[TenantScopedForm], super().get_form(request, obj, change=change, **kwargs))
        form.admin_tenant = admin_tenant(request)  # a class of this request's own
        form.admin_user = request.user
        return form

    def _hidden_fields(self, request) -> set[str]:
        if is_operator(request.user):
            return set()
        return {TENANT_FIELD, *self.operator_only_fields}

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or ()), *self._hidden_fields(request)]

    def get_fieldsets(self, request, obj=None):
        fieldsets: Sequence[Any]
        if obj is None and self.add_fieldsets is not None:
            fieldsets = self.add_fieldsets
        else:
            fieldsets = super().get_fieldsets(request, obj)
        hidden = self._hidden_fields(request)
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        # A row never moves to another tenant: its related rows would not follow.
        if obj is not None and is_operator(request.user):
            readonly.append(TENANT_FIELD)
        return readonly

    def save_model(self, request, obj, form, change):
        self.confine(request, obj, change)
        super().save_model(request, obj, form, change)

    def confine(self, request, obj, change: bool) -> None:
        """Give a new row the admin's tenant; refuse a change to a row of another tenant."""
        tenant = admin_tenant(request)
        if tenant is not None:
            if change and obj.tenant_id != tenant.pk:
                raise PermissionDenied
            obj.tenant = tenant

    # -- permissions: the row's tenant, on top of the user's admin rights
    def _may_touch(self, request, obj) -> bool:
        tenant = admin_tenant(request)
        return obj is None or tenant is None or obj.tenant_id == tenant.pk

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._may_touch(request, obj)

    def may_change_row(self, user, obj) -> bool:
        """Return whether ``user`` may change or delete ``obj`` of its tenant (the rows of a
        stronger user are only viewed); every row by default."""
        return True

    def _may_change(self, request, obj) -> bool:
        return self._may_touch(request, obj) and (obj is None or self.may_change_row(request.user, obj))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_change(request, obj)

    def get_deleted_objects(self, objs, request):
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Django's bulk "delete selected" asks only the model-wide permission: ask for each row.
        if not all(self.has_delete_permission(request, obj) for obj in objs):
            perms_needed = {*perms_needed, str(self.opts.verbose_name)}
        return to_delete, counts, perms_needed, protected


class ReadOnlyTenantScopedAdmin(TenantScopedAdmin):
    """For rows the server makes (tokens, codes, keys): listed and viewed, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
