"""Users and roles in the admin (docs/admin.md).

Users get permissions through roles; a role's permissions are WSO2 paths, picked from the
tree of known paths or typed. Passwords are set on Django's own admin password page and stored
with Django's hashers, never shown.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.forms import SetPasswordMixin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from identity import permissions
from identity.admin.privileges import may_act_as, may_manage_user, not_held
from identity.admin.tokens import without_credential_permissions
from identity.admin.widgets import PermissionTreeWidget
from identity.models import Role, User
from identity.services.users import lock_user, record_password_change, unlock_user
from tenants.admin_scoping import TenantScopedAdmin, TenantScopedForm, is_operator


class UserChangeForm(TenantScopedForm):
    def clean(self):
        cleaned_data = super().clean()
        tenant = self.row_tenant()
        if cleaned_data.get("is_superuser") and tenant is not None and not tenant.is_super:
            self.add_error("is_superuser", "only users of the super tenant can be superusers")
        if "roles" in cleaned_data and self.admin_user is not None:
            before = set(self.instance.roles.all()) if self.instance.pk else set()
            added = [path for role in set(cleaned_data["roles"]) - before for path in role.permissions]
            refused = not_held(self.admin_user, added)
            if refused:
                self.add_error("roles", f"you may grant only permissions you hold, not {', '.join(refused)}")
        return cleaned_data


class UserCreationForm(SetPasswordMixin, UserChangeForm):
    password1, password2 = SetPasswordMixin.create_password_fields()

    def clean(self):
        self.validate_passwords()
        return super().clean()

    def _post_clean(self):
        super()._post_clean()
        # As Django's UserCreationForm: the validators may compare the password with the user.
        self.validate_password_for_user(self.instance)

    def save(self, commit=True):
        user = super().save(commit=False)
        return self.set_password_and_save(user, commit=commit)


@admin.register(User)
class UserAdmin(TenantScopedAdmin, auth_admin.UserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    add_form_template = None  # the ordinary add page: ours sets more than a name and a password
    filter_horizontal = ()  # no groups, no per-user permissions: roles
    ordering = None
    list_display = ("username", "email", "role_names", "is_active", "is_locked", "is_staff")
    list_filter = ("is_active", "is_locked", "is_staff", "roles")
    search_fields = ("username", "email")
    list_select_related = ("tenant",)
    # Only an operator makes admins: a tenant admin neither sees nor sets these flags.
    operator_only_fields = ("is_superuser", "is_staff")
    fieldsets = (
        (None, {"fields": ("tenant", "username", "email", "password_status")}),
        ("Access", {"fields": ("is_active", "is_locked", "is_staff", "is_superuser")}),
        ("Roles and permissions", {"fields": ("roles", "held_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("tenant", "username", "email", "password1", "password2")}),
        ("Access", {"fields": ("is_staff", "is_superuser", "roles")}),
    )
    readonly_fields = ("password_status", "held_permissions", "last_login", "date_joined")
    actions = ("lock_users", "unlock_users")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("roles")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name != "roles":
            return super().formfield_for_manytomany(db_field, request, **kwargs)
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if not is_operator(request.user):
            field.label_from_instance = lambda role: role.name  # all of the admin's own tenant
        return field

    @admin.display(description="roles")
    def role_names(self, user: User) -> str:
        return ", ".join(role.name for role in user.roles.all())

    @admin.display(description="password")
    def password_status(self, user: User) -> str:
        url = reverse(f"{self.admin_site.name}:auth_user_password_change", args=[user.pk])
        return format_html('Stored hashed, never shown. <a href="{}">Set a new password</a>', url)

    @admin.display(description="permissions (through roles)")
    def held_permissions(self, user: User) -> str:
        paths = sorted(user.permission_paths())
        return format_html_join("", "<code>{}</code><br>", ((p,) for p in paths)) if paths else "none"

    def get_deleted_objects(self, objs, request):
        return without_credential_permissions(super().get_deleted_objects(objs, request))

    # -- who may change whom: only an operator changes a superuser
    def may_change_row(self, user, obj) -> bool:
        return may_manage_user(user, obj)

    def _changeable(self, request, queryset):
        return queryset if is_operator(request.user) else queryset.filter(is_superuser=False)

    # -- locking
    @admin.action(description="Lock selected users", permissions=["change"])
    def lock_users(self, request, queryset):
        if queryset.filter(pk=request.user.pk).exists():
            messages.warning(request, "You cannot lock yourself out: your own account was left as it is.")
        self._set_locked(request, self._changeable(request, queryset).exclude(pk=request.user.pk), True)

    @admin.action(description="Unlock selected users", permissions=["change"])
    def unlock_users(self, request, queryset):
        self._set_locked(request, self._changeable(request, queryset), False)

    def _set_locked(self, request, queryset, locked: bool) -> None:
        changed = 0
        # Through the service, one user at a time: locking revokes the user's tokens.
        change = lock_user if locked else unlock_user
        for user in queryset.filter(is_locked=not locked):
            change(user, actor=request.user.qualified_name)
            self.log_change(request, user, "Locked." if locked else "Unlocked.")
            changed += 1
        self.message_user(request, f"{'Locked' if locked else 'Unlocked'} {changed} user(s).")

    # -- passwords: Django's own page (django.contrib.auth.admin.UserAdmin), with our two rules
    def user_change_password(self, request, id, form_url=""):
        """Django's password page; another admin's password would be its powers: only an
        operator sets it."""
        user = self.get_object(request, unquote(id))
        if user is not None and not may_act_as(request.user, user):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def log_change(self, request, obj, message):
        """Django logs every admin change; a password change goes to the audit log too."""
        super().log_change(request, obj, message)
        if password_changed(message):
            record_password_change(obj, actor=request.user.qualified_name)


def password_changed(message) -> bool:
    """Return whether an admin change message (``construct_change_message``) says the password changed."""
    return isinstance(message, list) and any(
        "password" in entry.get("changed", {}).get("fields", ()) for entry in message
    )


class RoleForm(TenantScopedForm):
    known_permissions = forms.MultipleChoiceField(
        label="Permissions",
        choices=[(path, path) for path in permissions.KNOWN_PERMISSIONS],
        widget=PermissionTreeWidget,
        required=False,
        help_text="Holding a path grants every path below it.",
    )
    other_permissions = forms.CharField(
        label="Other permission paths",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One per line, for example /permission/admin/manage/custom.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        held = self.instance.permissions or []
        self.initial.setdefault("known_permissions", [p for p in held if p in permissions.KNOWN_PERMISSIONS])
        self.initial.setdefault(
            "other_permissions", "\n".join(p for p in held if p not in permissions.KNOWN_PERMISSIONS)
        )

    def clean_other_permissions(self) -> list[str]:
        paths = self.cleaned_data["other_permissions"].split()
        bad = [p for p in paths if not permissions.is_valid_path(p)]
        if bad:
            raise forms.ValidationError(
                f"not a permission path such as /permission/admin/login: {', '.join(bad)}"
            )
        return paths

    def clean(self):
        cleaned_data = super().clean()
        chosen = [*cleaned_data.get("known_permissions", []), *cleaned_data.get("other_permissions", [])]
        if self.admin_user is not None:
            refused = not_held(self.admin_user, set(chosen) - set(self.instance.permissions or []))
            if refused:
                raise forms.ValidationError(
                    f"you may grant only permissions you hold, not {', '.join(refused)}"
                )
        self.instance.permissions = sorted(set(chosen))
        return cleaned_data


@admin.register(Role)
class RoleAdmin(TenantScopedAdmin):
    form = RoleForm
    list_display = ("name", "permission_list")
    search_fields = ("name",)
    list_select_related = ("tenant",)
    fields = ("tenant", "name", "known_permissions", "other_permissions", "members")
    readonly_fields = ("members",)

    @admin.display(description="permissions")
    def permission_list(self, role: Role) -> str:
        return format_html_join("", "<code>{}</code><br>", ((p,) for p in role.permissions))

    @admin.display(description="users")
    def members(self, role: Role) -> str:
        if role.pk is None:
            return "Give users roles on their own pages."
        names = role.users.order_by("username").values_list("username", flat=True)
        return ", ".join(names) or "none"
