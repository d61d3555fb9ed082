"""Users and roles of a tenant (docs/admin.md).

A user belongs to one tenant and its username is unique there; its fully qualified name is
``username@tenant``. Roles hold WSO2 permission paths; users get permissions through roles.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models

from identity import permissions
from identity.usernames import validate_username
from tenants.announcing import Announced
from tenants.cache import Tag
from tenants.managers import TenantQuerySet, TenantScopedManager, TenantScopedManagerMixin
from tenants.models import Tenant

PRIMARY_USER_STORE = "PRIMARY"


def validate_permission_paths(value) -> None:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise ValidationError("permissions must be a list of paths")
    for path in value:
        if not permissions.is_valid_path(path):
            raise ValidationError(f"'{path}' is not a permission path such as /permission/admin/login")


def validate_new_password(password: str | None) -> None:
    """Refuse an empty password, which would sign in with an empty one (``None`` instead
    disables password sign-in)."""
    if password == "":
        raise ValidationError({"password": "must not be empty"})


class UserManager(TenantScopedManagerMixin, BaseUserManager.from_queryset(TenantQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, login: str) -> User:
        """Return the user named ``login`` (``user`` in the super tenant, or ``user@tenant``)."""
        from identity.usernames import resolve_login

        resolved = resolve_login(login)
        if resolved is None:
            raise self.model.DoesNotExist(login)
        tenant, username = resolved
        return self.for_tenant(tenant).get(username=username)

    def create_user(self, tenant: Tenant, username: str, password: str | None = None, **fields) -> User:
        validate_new_password(password)
        user = self.model(tenant=tenant, username=username, **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user


class User(Announced, AbstractBaseUser):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="users")
    username = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True, help_text="Inactive users cannot sign in anywhere.")
    is_locked = models.BooleanField(default=False, help_text="Locked users cannot sign in anywhere.")
    is_staff = models.BooleanField(default=False, help_text="May sign in to the admin site.")
    is_superuser = models.BooleanField(
        default=False, help_text="A super-tenant operator: manages tenants and sees every tenant's data."
    )
    date_joined = models.DateTimeField(auto_now_add=True)
    roles = models.ManyToManyField("identity.Role", blank=True, related_name="users")

    # Never a lookup, filter, search field, ordering or column in the admin (tenants.admin_scoping).
    SECRET_FIELDS = ("password",)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "username"], name="user_unique_per_tenant")]
        ordering = ["tenant", "username"]

    def __str__(self) -> str:
        return self.qualified_name

    def change_tags(self) -> list[Tag]:
        return [("u", self.pk)]

    def natural_key(self) -> tuple[str]:
        return (self.qualified_name,)

    def clean(self) -> None:
        # No tenant when a form left it out or had it wrong (that field reports it); a missing
        # related row raises an AttributeError subclass, so getattr's default covers it.
        tenant = getattr(self, "tenant", None)
        if tenant is not None and "@" in self.username and self.username.rsplit("@", 1)[1] == tenant.domain:
            raise ValidationError({"username": "give the username without its @tenant suffix"})
        try:
            validate_username(self.username)
        except ValidationError as error:
            raise ValidationError({"username": error.messages}) from None

    def get_short_name(self) -> str:
        """Return the name the admin greets the user by: the fully qualified one."""
        return self.qualified_name

    @property
    def qualified_name(self) -> str:
        """Return ``username@tenant`` (``admin@carbon.super``), the fully qualified name (docs/admin.md)."""
        return f"{self.username}@{self.tenant.domain}"

    @property
    def can_authenticate(self) -> bool:
        return self.is_active and not self.is_locked

    def permission_paths(self) -> set[str]:
        """Return the permission paths this user holds through its roles (cached on the instance)."""
        if not hasattr(self, "_permission_paths"):
            paths: set[str] = set()
            for role_permissions in self.roles.values_list("permissions", flat=True):
                paths.update(role_permissions)
            self._permission_paths = paths
        return self._permission_paths

    def has_any_permission(self, wanted: Iterable[str]) -> bool:
        """Return whether the user holds any of ``wanted``, hierarchically (docs/admin.md)."""
        return self.can_authenticate and permissions.holds_any(self.permission_paths(), wanted)

    # Django's admin asks these. Super-tenant superusers see everything; tenant admins are
    # confined to their tenant by the admin site itself.
    def has_perm(self, perm: str, obj=None) -> bool:
        return self.can_authenticate and (self.is_superuser or self.is_tenant_admin)

    def has_module_perms(self, app_label: str) -> bool:
        return self.has_perm(app_label)

    @property
    def is_tenant_admin(self) -> bool:
        return self.has_any_permission([permissions.ADMIN])


class Role(Announced):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=150)
    permissions = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_permission_paths],
        help_text="Permission paths; each grants itself and every path below it.",
    )

    objects = TenantScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="role_unique_per_tenant")]
        ordering = ["tenant", "name"]

    def __str__(self) -> str:
        return f"{self.name}@{self.tenant.domain}"

    def change_tags(self) -> list[Tag]:
        return [("r", self.pk)]
