"""Access tokens, refresh tokens, authorization codes and ID tokens of a tenant (docs/clients-and-grants.md).

The toolkit's models, swapped to carry ``tenant``. With
``COMPLIANT_BCP_RFC9700_TOKEN_STORAGE`` the ``token`` column stays blank: only
``token_checksum`` (SHA-256 of the token, hex) is stored, so nothing in the database can be
replayed. A token is found by the checksum of what the caller presents.
"""

from __future__ import annotations

import hashlib
import uuid

from django.db import models, transaction
from django.utils import timezone
from oauth2_provider.models import AbstractAccessToken, AbstractGrant, AbstractIDToken, AbstractRefreshToken

from tenants.announcing import Announced
from tenants.cache import Tag
from tenants.managers import TenantScopedManager
from tenants.models import Tenant


def token_checksum(token: str) -> str:
    """Return the digest a token is stored and looked up by (the toolkit's: SHA-256, hex)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def redeemed_code(code: str) -> str:
    """Return what a redeemed authorization code's row keeps in place of the code."""
    return "redeemed:" + token_checksum(code)


class TenantFromClient(models.Model):
    """A row of the client's tenant: ``tenant`` is taken from ``application`` when not given."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    objects = TenantScopedManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.tenant_id is None and self.application_id is not None:
            self.tenant_id = self.application.tenant_id
        super().save(*args, **kwargs)


class AnnouncedToken(Announced):
    """A token whose state the cache holds: a change names it; a bulk change, its clients."""

    owner_tags = (("c", "application_id"), ("t", "tenant_id"))
    # A new token was never cached (unknown tokens are not kept as unknown).
    announce_creation = False

    class Meta:
        abstract = True


class AccessToken(AnnouncedToken, TenantFromClient, AbstractAccessToken):  # noqa: DJ008 (the toolkit's __str__ names the row, never the token)
    jti = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name="JWT ID")
    grant_type = models.CharField(max_length=40, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    # Not auto_now_add: a JWT access token's row takes the iat of its claims.
    created = models.DateTimeField(default=timezone.now, editable=False)
    # The authorization code it was issued from, so that replaying the code revokes it
    # (RFC 6749 §4.1.2).
    code_grant = models.ForeignKey(
        "identity.Grant", null=True, blank=True, on_delete=models.SET_NULL, related_name="access_tokens"
    )

    # Never a lookup, filter, search field, ordering or column in the admin (tenants.admin_scoping).
    SECRET_FIELDS = ("token", "token_checksum")

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"

    @property
    def is_app_token(self) -> bool:
        """A client_credentials token: it acts for the client (as its owner, docs/clients-and-grants.md)."""
        return self.grant_type == "client_credentials"

    def is_active(self) -> bool:
        return self.revoked is None and not self.is_expired()

    def change_tags(self) -> list[Tag]:
        return [("at", self.pk)]

    def is_valid(self, scopes=None) -> bool:
        return self.revoked is None and super().is_valid(scopes)

    def revoke(self) -> None:
        """Mark the token revoked (kept for the admin's list until `cleartokens`)."""
        if self.revoked is None:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked", "updated"])


class RefreshToken(AnnouncedToken, TenantFromClient, AbstractRefreshToken):  # noqa: DJ008 (the toolkit's __str__ names the row, never the token)
    expires = models.DateTimeField(null=True, blank=True)
    jti = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name="JWT ID")
    # RFC 9700 §4.14.2: the family (this token and its rotations) ends here, however often it
    # is refreshed ([oauth] refresh_token_max_lifetime after the first refresh token).
    family_expires = models.DateTimeField(null=True, blank=True, editable=False)

    # Never a lookup, filter, search field, ordering or column in the admin (tenants.admin_scoping).
    SECRET_FIELDS = ("token", "token_checksum")

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"

    def is_expired(self) -> bool:
        return self.expires is not None and timezone.now() >= self.expires

    def is_active(self) -> bool:
        return self.revoked is None and not self.is_expired()

    def change_tags(self) -> list[Tag]:
        return [("rt", self.pk)]

    @classmethod
    def revoke_family(cls, token_family: uuid.UUID | None) -> None:
        """Revoke every refresh token of the family and mark their access tokens revoked.

        The toolkit's version deletes the access tokens; ours are kept, revoked, like those
        ``AccessToken.revoke()`` revokes (the admin lists them until ``cleartokens``).
        """
        if not token_family:
            return
        with transaction.atomic():
            now = timezone.now()
            family = cls.objects.filter(token_family=token_family)
            family.filter(revoked__isnull=True).update(revoked=now, updated=now)
            AccessToken.objects.filter(pk__in=family.values("access_token_id"), revoked__isnull=True).update(
                revoked=now, updated=now
            )


class Grant(TenantFromClient, AbstractGrant):  # noqa: DJ008 (the toolkit's __str__ names the row, never the token)
    # Set when the code is exchanged. The row stays until it expires, so a replayed code is
    # recognised and the tokens issued from it revoked (RFC 6749 §4.1.2).
    redeemed = models.DateTimeField(null=True, blank=True, editable=False)
    # The authorization request left redirect_uri out, so the client's one registered URI was
    # used: only then may the token request leave it out too (RFC 6749 §4.1.3). False for a
    # row that does not say, the stricter rule.
    redirect_uri_defaulted = models.BooleanField(default=False, editable=False)
    # Never a lookup, filter, search field, ordering or column in the admin (tenants.admin_scoping).
    SECRET_FIELDS = ("code", "code_challenge", "nonce")

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"


class IDToken(TenantFromClient, AbstractIDToken):  # noqa: DJ008 (the toolkit's __str__ names the row, never the token)
    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
