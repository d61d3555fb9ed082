"""OAuth clients in the admin (docs/clients-and-grants.md, docs/admin.md).

A client's secret is stored hashed. The admin shows it once: on the page that answers the
form that created the client, and on the page that answers "rotate secret". It never goes
through the session or a message, and the stored hash is never shown.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from deployment.current import get_deployment
from identity.admin.privileges import may_act_as
from identity.admin.tokens import without_credential_permissions
from identity.models import Client
from identity.models.clients import GRANT_TYPES
from identity.services.clients import register_client, rotate_secret
from tenants.admin_scoping import TenantScopedAdmin, TenantScopedForm, is_operator


class WordListField(forms.CharField):
    """A list of words (scopes, audiences), typed separated by spaces or commas."""

    def prepare_value(self, value):
        return " ".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        words = re.split(r"[\s,]+", super().to_python(value))
        return list(dict.fromkeys(word for word in words if word))


def may_take(admin_user, client: Client) -> bool:
    """Return whether ``admin_user`` may change ``client`` at all: its tokens act for its owner,
    so whoever rotates its secret, or changes its redirect URIs, scopes or grants, takes the
    owner's powers or its users' codes (``may_act_as``, the API's ``check_may_own``)."""
    return client.user is None or may_act_as(admin_user, client.user)


class ClientForm(TenantScopedForm):
    grant_types = forms.MultipleChoiceField(
        choices=[(grant, grant) for grant in GRANT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="RFC 6749 grant types the client may use.",
    )
    allowed_scopes = WordListField(
        label="Scopes", required=False, help_text="Scopes the client may ask for, separated by spaces."
    )
    audiences = WordListField(
        required=False,
        help_text="Audience of its tokens when a request names no resource (RFC 8707); separated by spaces.",
    )
    introspection_scripts = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Scripts of [[oauth.introspect.script]] in deployment.toml, run for this client's "
        "tokens in the order configured there.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "introspection_scripts" in self.fields:
            # Read per form: deployment.toml may have been reloaded (SIGHUP). An operator's new
            # client has no tenant yet: every script is offered, and clean() checks the tenant's.
            tenant = self.instance.tenant if self.instance.tenant_id is not None else None
            usable = self.usable_scripts(tenant)
            bound = [name for name in self.instance.introspection_scripts or [] if name not in usable]
            self.fields["introspection_scripts"].choices = [(name, name) for name in usable] + [
                (name, f"{name} (no longer in deployment.toml for this tenant)") for name in bound
            ]

    @staticmethod
    def usable_scripts(tenant) -> list[str]:
        config = get_deployment().oauth.introspect
        return (
            [script.name for script in config.script]
            if tenant is None
            else config.usable_scripts(tenant.domain)
        )

    def clean(self):
        cleaned_data = super().clean()
        tenant = self.row_tenant()
        if tenant is None:
            return cleaned_data
        kept = set(self.instance.introspection_scripts or ())  # already bound: may stay
        chosen = set(cleaned_data.get("introspection_scripts") or ()) - kept
        refused = sorted(chosen - set(self.usable_scripts(tenant)))
        if refused:
            self.add_error(
                "introspection_scripts", f"not a script for tenant {tenant.domain}: {', '.join(refused)}"
            )
        return cleaned_data

    def clean_user(self):
        # The client's tokens act for its owner: owning a client with a user is using its powers.
        owner = self.cleaned_data.get("user")
        changed = owner is not None and owner.pk != self.instance.user_id
        if changed and self.admin_user is not None and not may_act_as(self.admin_user, owner):
            raise forms.ValidationError("you may not give a client an owner who holds more than you do")
        return owner


class ClientAdmin(TenantScopedAdmin):
    form = ClientForm
    list_display = ("name", "client_id", "client_type", "grants", "token_format", "owner", "active")
    list_filter = ("active", "client_type", "token_format")
    search_fields = ("name", "client_id")
    autocomplete_fields = ("user",)
    radio_fields = {"client_type": admin.HORIZONTAL, "token_format": admin.HORIZONTAL}
    list_select_related = ("tenant", "user__tenant")
    ordering = ("name", "client_id")
    fieldsets = (
        (None, {"fields": ("tenant", "name", "client_id", "client_type", "user", "secret", "active")}),
        ("Grants", {"fields": ("grant_types", "redirect_uris", "skip_authorization")}),
        (
            "Tokens",
            {
                "fields": (
                    "allowed_scopes",
                    "audiences",
                    "token_format",
                    "access_token_lifetime",
                    "refresh_token_lifetime",
                )
            },
        ),
        (
            "Introspection",
            {
                "fields": (
                    "use_tenant_domain_in_local_subject_identifier",
                    "use_user_store_domain_in_local_subject_identifier",
                    "introspection_scripts",
                    "run_introspection_script_before_jwt_creation",
                )
            },
        ),
    )
    readonly_fields = ("secret",)
    view_on_site = False  # the toolkit's client pages are not served here

    @admin.display(description="grant types")
    def grants(self, client: Client) -> str:
        return ", ".join(client.grant_types)

    @admin.display(description="owner", ordering="user__username")
    def owner(self, client: Client):
        return client.user

    @admin.display(description="client secret")
    def secret(self, client: Client) -> str:
        if client.pk is None:
            return "Generated when you save, and shown once."
        if client.client_type == Client.CLIENT_PUBLIC:
            return "A public client has no secret."
        url = reverse(f"admin:{self._url_name('rotate_secret')}", args=[client.pk])
        return format_html('Stored hashed: it was shown once. <a href="{}">Rotate the secret</a>', url)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        # The client id is what callers know it by; a public client has no secret to become
        # confidential with: both are chosen once, at creation.
        return [*readonly, "client_id", "client_type"] if obj is not None else readonly

    def get_changeform_initial_data(self, request):
        initial = {"client_type": Client.CLIENT_CONFIDENTIAL, **super().get_changeform_initial_data(request)}
        if not is_operator(request.user):
            # tokens of the client act for its owner (docs/clients-and-grants.md)
            initial.setdefault("user", request.user.pk)
        return initial

    def get_deleted_objects(self, objs, request):
        return without_credential_permissions(super().get_deleted_objects(objs, request))

    # -- a client of a stronger owner is only viewed: settings, secret and deletion
    def may_change_row(self, user, obj) -> bool:
        return may_take(user, obj)

    # -- the secret, shown once
    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # Registered by the service, as the API and the commands register theirs: it gives the
        # secret (response_add shows it, once) and writes the client.created audit record, with
        # this admin as the actor.
        self.confine(request, obj, change)
        request.new_client_secret = register_client(obj, actor=request.user.qualified_name)

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(request, f"The client “{obj}” was added.")
        return self.secret_response(request, obj, getattr(request, "new_client_secret", ""), created=True)

    def secret_response(self, request, client: Client, secret: str, *, created: bool) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": "Client created" if created else "Client secret rotated",
            "opts": self.opts,
            "original": client,
            "secret": secret,
            "created": created,
        }
        response = TemplateResponse(request, "admin/identity/client/secret.html", context)
        add_never_cache_headers(response)  # the page holds a secret: never from a cache
        return response

    def rotate_secret_view(self, request, object_id: str):
        client = self.get_object(request, unquote(object_id))
        if not self.has_change_permission(request, client):
            raise PermissionDenied
        change_url = reverse(f"admin:{self._url_name('change')}", args=[client.pk])
        if client.client_type == Client.CLIENT_PUBLIC:
            messages.error(request, "A public client has no secret to rotate.")
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            secret = rotate_secret(client, actor=request.user.qualified_name)
            self.log_change(request, client, "Rotated the client secret.")
            return self.secret_response(request, client, secret, created=False)
        context = {
            **self.admin_site.each_context(request),
            "title": "Rotate the client secret?",
            "opts": self.opts,
            "original": client,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/identity/client/rotate_secret.html", context)

    def get_urls(self):
        rotate = self.admin_site.admin_view(self.rotate_secret_view)
        return [
            path("<path:object_id>/rotate-secret/", rotate, name=self._url_name("rotate_secret")),
            *super().get_urls(),
        ]

    def _url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"
