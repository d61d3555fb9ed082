"""Find the token a caller presents: one indexed read by its digest (§6.1, §10).

``token_type_hint`` only orders the search (RFC 7662 §2.1): a wrong or unknown hint still
finds the token, a refresh token included.
"""

from __future__ import annotations

from django.db.models import F

from identity.models import AccessToken, RefreshToken
from identity.models.tokens import token_checksum

# What a response needs (§6.4, §6.5), and no more: the read stays narrow on the hot path.
_CLIENT_FIELDS = (
    "application__client_id",
    "application__tenant_id",
    "application__token_format",
    "application__introspection_scripts",
    "application__use_tenant_domain_in_local_subject_identifier",
    "application__use_user_store_domain_in_local_subject_identifier",
)
_USER_FIELDS = ("user__username", "user__tenant_id")
_ACCESS_FIELDS = ("tenant_id", "scope", "expires", "created", "resource", "jti", "grant_type", "revoked")
_REFRESH_FIELDS = ("tenant_id", "expires", "created", "resource", "jti", "revoked", "access_token__scope")


def find_token(token: str, hint: str = "") -> AccessToken | RefreshToken | None:
    """Return the access or refresh token whose digest matches ``token``, or None."""
    checksum = token_checksum(token)
    finders = (_refresh_token, _access_token) if hint == "refresh_token" else (_access_token, _refresh_token)
    for find in finders:
        found = find(checksum)
        if found is not None:
            return found
    return None


def _access_token(checksum: str) -> AccessToken | None:
    # token_checksum is unique: a slice, not .first(), whose ORDER BY id would cost a sort to
    # compile and to plan on every request, for one row at most (bench/, docs/performance.md).
    found = (
        AccessToken.objects.all_tenants()
        .select_related("application", "user")
        .only(*_ACCESS_FIELDS, *_CLIENT_FIELDS, *_USER_FIELDS)
        .filter(token_checksum=checksum)[:1]
    )
    return found[0] if found else None


def _refresh_token(checksum: str) -> RefreshToken | None:
    # Rows may share a digest ((checksum, revoked) is unique): prefer the unrevoked one.
    return (
        RefreshToken.objects.all_tenants()
        .select_related("application", "user", "access_token")
        .only(*_REFRESH_FIELDS, *_CLIENT_FIELDS, *_USER_FIELDS)
        .filter(token_checksum=checksum)
        .order_by(F("revoked").desc(nulls_first=True))
        .first()
    )
