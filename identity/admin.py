"""The admin site's pages for the OAuth core (SPEC §8).

The toolkit registers its models itself, with the admin classes its settings name
(``*_ADMIN_CLASS``, pointing here). Tokens are listed without their values: only digests are
stored, and even those are not shown.
"""

from django.contrib import admin

from identity.models import Role, SigningKey, User


class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "client_id", "tenant", "client_type", "token_format")
    list_filter = ("tenant", "client_type", "token_format")
    search_fields = ("name", "client_id")
    exclude = ("client_secret",)


class TokenAdmin(admin.ModelAdmin):
    list_display = ("__str__", "tenant", "application", "user", "scope", "created", "expires", "revoked")
    list_filter = ("tenant", "revoked")
    search_fields = ("application__client_id", "user__username")
    exclude = ("token", "token_checksum")
    readonly_fields = ("tenant", "application", "user", "scope", "expires")


class RefreshTokenAdmin(TokenAdmin):
    list_display = ("__str__", "tenant", "application", "user", "created", "expires", "revoked")
    readonly_fields = ("tenant", "application", "user", "expires")


class GrantAdmin(admin.ModelAdmin):
    list_display = ("__str__", "tenant", "application", "user", "expires")
    exclude = ("code",)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "tenant", "is_active", "is_locked", "is_staff")
    list_filter = ("tenant", "is_active", "is_locked")
    search_fields = ("username", "email")
    exclude = ("password",)


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant")
    list_filter = ("tenant",)


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "tenant", "algorithm", "active", "created", "publish_until")
    exclude = ("private_key",)
