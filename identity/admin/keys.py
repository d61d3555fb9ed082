"""Signing keys in the admin: listed and viewed, their private halves never (docs/clients-and-grants.md)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from identity.models import SigningKey
from tenants.admin_scoping import ReadOnlyTenantScopedAdmin


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyTenantScopedAdmin):
    list_display = ("kid", "algorithm", "active", "created", "publish_until")
    list_filter = ("algorithm", "active")
    search_fields = ("kid",)
    fields = ("tenant", "kid", "algorithm", "active", "created", "publish_until", "public_key")
    readonly_fields = ("kid", "created", "public_key")

    @admin.display(description="public key (JWK)")
    def public_key(self, obj: SigningKey) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.public_jwk(), indent=2))
