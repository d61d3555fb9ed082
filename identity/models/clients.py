"""OAuth clients of a tenant: django-oauth-toolkit's Application, swapped (docs/clients-and-grants.md).

Client ids are unique per tenant, not globally: the demo client id exists in two tenants.
A client may hold several grant types (RFC 6749 names), unlike the toolkit's one.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from oauth2_provider.generators import generate_client_id
from oauth2_provider.models import AbstractApplication

from tenants.announcing import Announced
from tenants.cache import Tag
from tenants.managers import TenantScopedManager
from tenants.models import Tenant

GRANT_TYPES = ("authorization_code", "client_credentials", "password", "refresh_token")

# The toolkit asks `allows_grant_type` with its own names; ours are RFC 6749's.
_FROM_TOOLKIT = {
    AbstractApplication.GRANT_AUTHORIZATION_CODE: "authorization_code",
    AbstractApplication.GRANT_CLIENT_CREDENTIALS: "client_credentials",
    AbstractApplication.GRANT_PASSWORD: "password",
}


def validate_grant_types(value) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("give at least one grant type")
    unknown = sorted(set(value) - set(GRANT_TYPES))
    if unknown:
        raise ValidationError(f"unknown grant type(s) {', '.join(unknown)}; use {', '.join(GRANT_TYPES)}")


def validate_string_list(value) -> None:
    if not isinstance(value, list) or not all(
        isinstance(item, str) and item and " " not in item for item in value
    ):
        raise ValidationError("must be a list of non-empty strings without spaces")


def _is_redirect_uri(uri: str) -> bool:
    """RFC 6749 §3.1.2: absolute, no fragment; plain http only to a loopback host.

    RFC 9700 §4.1.1 and RFC 8252 §7.3: an http redirect elsewhere carries the code in clear.
    """
    parts = urlsplit(uri)
    if not parts.netloc or parts.fragment:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname or ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Client(Announced, AbstractApplication):
    class TokenFormat(models.TextChoices):
        OPAQUE = "opaque", "Opaque"
        JWT = "jwt", "JWT (RFC 9068)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="clients")
    client_id = models.CharField(max_length=100, default=generate_client_id, db_index=True)
    # The toolkit's one grant type per client, removed (Django lets a model drop a field of its
    # abstract parent); the toolkit asks `allows_grant_type`, which reads the list below.
    authorization_grant_type = None
    grant_types = models.JSONField(default=list, validators=[validate_grant_types])
    allowed_scopes = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_string_list],
        help_text="Scopes the client may ask for.",
    )
    audiences = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_string_list],
        help_text="Audience of its tokens when the request names no `resource` (RFC 8707).",
    )
    token_format = models.CharField(max_length=10, choices=TokenFormat.choices, default=TokenFormat.OPAQUE)
    access_token_lifetime = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; empty: [oauth] access_token_validity."
    )
    refresh_token_lifetime = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds; empty: [oauth] refresh_token_validity."
    )
    use_tenant_domain_in_local_subject_identifier = models.BooleanField(default=False)
    use_user_store_domain_in_local_subject_identifier = models.BooleanField(default=False)
    introspection_scripts = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_string_list],
        help_text="Names of [[oauth.introspect.script]].",
    )
    run_introspection_script_before_jwt_creation = models.BooleanField(default=False)
    registration_access_token_digest = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="SHA-256 of the RFC 7592 registration access token of a client registered by DCR.",
    )
    active = models.BooleanField(
        default=True, help_text="Inactive clients cannot authenticate anywhere; their tokens were revoked."
    )

    objects = TenantScopedManager()

    # Never a lookup, filter, search field, ordering or column in the admin (tenants.admin_scoping).
    SECRET_FIELDS = ("client_secret", "registration_access_token_digest")

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "client_id"], name="client_id_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.name or self.client_id} ({self.tenant.domain})"

    def change_tags(self) -> list[Tag]:
        return [("c", self.pk)]

    def natural_key(self) -> tuple[str, str]:
        return (self.tenant.domain, self.client_id)

    def allows_grant_type(self, *grant_types: str) -> bool:
        return any(
            _FROM_TOOLKIT.get(grant_type, grant_type) in self.grant_types for grant_type in grant_types
        )

    def is_usable(self, request) -> bool:
        """The toolkit's seam: a deactivated client is no client at all, at the authorization
        endpoint too (RFC 6749 §4.1.2.1: no redirect to it, no code for it)."""
        return self.active

    def clean(self) -> None:
        """Check the toolkit's rules (redirect URI syntax, allowed origins, signing algorithm)
        and ours; report every problem at once, on its field."""
        errors: dict = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        ours = {}
        if "authorization_code" in (self.grant_types or []) and not self.redirect_uris.split():
            ours["redirect_uris"] = "the authorization_code grant needs at least one redirect URI"
        if self.client_type == self.CLIENT_PUBLIC and "client_credentials" in (self.grant_types or []):
            ours["grant_types"] = "a public client cannot use client_credentials (it has no secret)"
        if self.user_id is not None and self.tenant_id is not None and self.user.tenant_id != self.tenant_id:
            ours["user"] = "the owner must be a user of the client's tenant"
        bad_uris = [uri for uri in self.redirect_uris.split() if not _is_redirect_uri(uri)]
        if bad_uris:
            ours["redirect_uris"] = (
                "not an absolute https URI without fragment (http only to localhost, 127.0.0.1 or ::1): "
                + ", ".join(bad_uris)
            )
        # On a field both find wrong (a redirect URI), ours is the stricter rule: say it once.
        errors.update({field: [ValidationError(message)] for field, message in ours.items()})
        if errors:
            raise ValidationError(errors)
