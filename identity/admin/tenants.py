"""Tenants in the admin: for operators (super-tenant superusers) only (docs/architecture.md, docs/admin.md).

A tenant is created with its first admin and its signing key, all or nothing
(``identity.provisioning.create_tenant``). It is deactivated, not deleted: its endpoints then
answer 404 and its users cannot sign in, and its data stays.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.forms import SetPasswordMixin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html_join
from django.views.decorators.debug import sensitive_post_parameters

from identity.models import User
from identity.provisioning import create_tenant
from identity.usernames import validate_new_tenant_domain
from tenants.admin_scoping import is_operator
from tenants.admin_writes import WriteSafeAdmin
from tenants.models import Tenant


class TenantForm(forms.ModelForm):
    def clean(self):
        cleaned_data = super().clean()
        if self.instance.pk is not None and self.instance.is_super and not cleaned_data.get("active"):
            self.add_error("active", "the super tenant cannot be deactivated")
        return cleaned_data


class TenantCreationForm(SetPasswordMixin, forms.ModelForm):
    admin_username = forms.CharField(
        label="Admin username", initial="admin", max_length=150, help_text="Signs in as username@domain."
    )
    password1, password2 = SetPasswordMixin.create_password_fields(
        label1="Admin password", label2="Admin password confirmation"
    )

    class Meta:
        model = Tenant
        fields = ("domain", "name")

    def clean(self):
        cleaned_data = super().clean()
        self.validate_passwords()
        domain, username = cleaned_data.get("domain"), cleaned_data.get("admin_username")
        if domain:
            try:
                validate_new_tenant_domain(domain)
            except ValidationError as error:
                self.add_error("domain", error)
        if domain and username:
            admin_user = User(tenant=Tenant(domain=domain), username=username)
            try:
                admin_user.full_clean(exclude=["password", "tenant"], validate_constraints=False)
            except ValidationError as error:
                self.add_error("admin_username", error.message_dict.get("username", error.messages))
            self.validate_password_for_user(admin_user)
        return cleaned_data


@admin.register(Tenant)
class TenantAdmin(WriteSafeAdmin):
    form = TenantForm
    list_display = ("domain", "name", "active", "created", "rows")
    list_filter = ("active",)
    search_fields = ("domain", "name")
    fields = ("domain", "name", "active", "created")
    readonly_fields = ("domain", "created")
    actions = ("deactivate", "activate")

    @method_decorator(sensitive_post_parameters())
    def add_view(self, request, form_url="", extra_context=None):
        return super().add_view(request, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TenantCreationForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ("domain", "name")}),
                (
                    "First admin (holds /permission/admin)",
                    {"fields": ("admin_username", "password1", "password2")},
                ),
            ]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = create_tenant(
            obj.domain,
            admin_username=form.cleaned_data["admin_username"],
            admin_password=form.cleaned_data["password1"],
            name=obj.name,
        )
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False

    @admin.display(description="data")
    def rows(self, tenant: Tenant) -> str:
        links = [
            (reverse(f"admin:identity_{model}_changelist") + f"?tenant__id__exact={tenant.pk}", label)
            for model, label in (("user", "users"), ("client", "clients"), ("accesstoken", "tokens"))
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    # -- deactivation, one save per tenant: the save clears the tenant cache (tenants.signals)
    @admin.action(description="Deactivate selected tenants (their endpoints answer 404)")
    def deactivate(self, request, queryset):
        changed = []
        for tenant in queryset.filter(active=True):
            if tenant.is_super:
                messages.error(request, f"The super tenant {tenant.domain} stays active.")
                continue
            tenant.active = False
            tenant.save(update_fields=["active"])
            self.log_change(request, tenant, "Deactivated.")
            changed.append(tenant.domain)
        self.message_user(request, f"Deactivated: {', '.join(changed) or 'none'}.")

    @admin.action(description="Activate selected tenants")
    def activate(self, request, queryset):
        changed = []
        for tenant in queryset.filter(active=False):
            tenant.active = True
            tenant.save(update_fields=["active"])
            self.log_change(request, tenant, "Activated.")
            changed.append(tenant.domain)
        self.message_user(request, f"Activated: {', '.join(changed) or 'none'}.")

    # -- operators only; a tenant is never deleted here
    def has_module_permission(self, request):
        return is_operator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_add_permission(self, request):
        return is_operator(request.user)

    def has_change_permission(self, request, obj=None):
        return is_operator(request.user)

    def has_delete_permission(self, request, obj=None):
        return False
