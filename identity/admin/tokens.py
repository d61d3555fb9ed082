"""Tokens in the admin: listed without their values, revoked by an action (docs/clients-and-grants.md,
docs/admin.md).

Only digests of tokens are stored, and the admin shows not even those: a row is named by its
number, client, user, scopes and dates. Tokens are made by the OAuth flows, never here.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from identity.models import AccessToken, Grant, IDToken, RefreshToken
from identity.services.tokens import revoke_token
from tenants.admin_scoping import ReadOnlyTenantScopedAdmin, TenantRelatedFieldListFilter

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"

# Rows that go with the client or user that owns them: deleting those needs no right to
# delete credentials one by one (which nobody has: revoke instead).
CREDENTIAL_MODELS = (AccessToken, RefreshToken, Grant, IDToken)


def token_state(token: AccessToken | RefreshToken) -> str:
    if token.revoked is not None:
        return REVOKED
    return EXPIRED if token.is_expired() else ACTIVE


@admin.action(description="Revoke selected tokens", permissions=["revoke"])
def revoke_tokens(modeladmin, request, queryset) -> None:
    """Revoke the selected access or refresh tokens, as the revocation endpoint would (RFC 7009
    §2.1): an access token with its refresh token, a refresh token with its grant's access tokens."""
    tokens = list(queryset.filter(revoked__isnull=True).select_related("tenant"))
    for token in tokens:
        revoke_token(token, actor=request.user.qualified_name)
    modeladmin.message_user(request, f"Revoked {len(tokens)} token(s) and the tokens issued with them.")


def without_credential_permissions(deleted_objects: tuple) -> tuple:
    """Return ``get_deleted_objects``' answer without the credentials it says need a permission."""
    to_delete, counts, perms_needed, protected = deleted_objects
    names = {str(model._meta.verbose_name) for model in CREDENTIAL_MODELS}
    return to_delete, counts, perms_needed - names, protected


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(ACTIVE, "Active"), (EXPIRED, "Expired"), (REVOKED, "Revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == REVOKED:
            return queryset.filter(revoked__isnull=False)
        if self.value() == EXPIRED:
            return queryset.filter(revoked__isnull=True, expires__lte=now)
        if self.value() == ACTIVE:
            return queryset.filter(revoked__isnull=True).exclude(expires__lte=now)
        return queryset


class ClientFilter(TenantRelatedFieldListFilter):
    """Filter by client (the toolkit calls it "application")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "client"


CLIENT_FILTER = ("application", ClientFilter)


class CredentialAdmin(ReadOnlyTenantScopedAdmin):
    """Columns and search shared by the credential lists (never by a token value)."""

    list_display_links = ("number",)
    search_fields = ("application__client_id", "application__name", "user__username", "user__email")
    list_select_related = ("tenant", "application__tenant", "user__tenant")
    ordering = ("-created", "-pk")

    @admin.display(description="number", ordering="pk")
    def number(self, obj) -> str:
        return f"#{obj.pk}"

    @admin.display(description="client", ordering="application__name")
    def client(self, obj):
        return obj.application

    @admin.display(description="issued", ordering="created")
    def issued(self, obj):
        return obj.created

    @admin.display(description="state")
    def state(self, obj) -> str:
        return token_state(obj)

    def has_revoke_permission(self, request) -> bool:
        return self.has_view_permission(request)


class TokenAdmin(CredentialAdmin):
    list_display = ("number", "client", "user", "scope", "issued", "expires", "state")
    list_filter = (StateFilter, CLIENT_FILTER, "user", "grant_type")
    fields = (
        "tenant",
        "application",
        "user",
        "grant_type",
        "scope",
        "resource",
        "issued",
        "expires",
        "state",
        "revoked",
        "jti",
    )
    readonly_fields = ("issued", "state")
    actions = (revoke_tokens,)


class RefreshTokenAdmin(CredentialAdmin):
    list_display = ("number", "client", "user", "issued", "expires", "state")
    list_filter = (StateFilter, CLIENT_FILTER, "user")
    fields = ("tenant", "application", "user", "resource", "issued", "expires", "state", "revoked", "jti")
    readonly_fields = ("issued", "state")
    actions = (revoke_tokens,)


class GrantAdmin(CredentialAdmin):
    """Authorization codes and ID tokens: listed for the record, without the code."""

    list_display = ("number", "client", "user", "issued", "expires")
    list_filter = (CLIENT_FILTER,)
    exclude = ("code",)
    readonly_fields = ("issued",)
