"""Find the token a caller presents: one indexed read by its digest (§6.1, §10).

``token_type_hint`` only orders the search (RFC 7662 §2.1): a wrong or unknown hint still
finds the token, a refresh token included.
"""

from __future__ import annotations

from django.db.models import F

from identity.models import AccessToken, Client, RefreshToken, User
from identity.models.tokens import token_checksum
from introspection.cache import clients, users

# What a response needs (§6.4, §6.5), and no more: the reads stay narrow on the hot path.
_CLIENT_FIELDS = (
    "client_id",
    "tenant_id",
    "token_format",
    "introspection_scripts",
    "use_tenant_domain_in_local_subject_identifier",
    "use_user_store_domain_in_local_subject_identifier",
)
_USER_FIELDS = ("username", "tenant_id")
_ACCESS_FIELDS = (
    *("tenant_id", "application", "user", "scope", "expires", "created", "resource", "jti", "grant_type"),
    "revoked",
)
_REFRESH_FIELDS = ("tenant_id", "expires", "created", "resource", "jti", "revoked", "access_token__scope")
_RELATED = (*(f"application__{name}" for name in _CLIENT_FIELDS), *(f"user__{name}" for name in _USER_FIELDS))


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
    # One table, one unique index: the client and user come from per-process caches. A slice,
    # not .first(), whose ORDER BY id would cost a sort on every request.
    found = AccessToken.objects.all_tenants().only(*_ACCESS_FIELDS).filter(token_checksum=checksum)[:1]
    if not found:
        return None
    token = found[0]
    if token.application_id is not None:
        token.application = _cached(clients, Client, token.application_id, _CLIENT_FIELDS)
    if token.user_id is not None:
        token.user = _cached(users, User, token.user_id, _USER_FIELDS)
    return token


def _cached(cache, model, pk: int, fields: tuple[str, ...]):
    """Return the row ``pk`` of ``model`` with ``fields``, from ``cache`` or one read."""
    row = cache.get(pk)
    if row is None:
        row = model.objects.all_tenants().only(*fields).get(pk=pk)
        cache.set(pk, row)
    return row


def _refresh_token(checksum: str) -> RefreshToken | None:
    # Rows may share a digest ((checksum, revoked) is unique): prefer the unrevoked one.
    return (
        RefreshToken.objects.all_tenants()
        .select_related("application", "user", "access_token")
        .only(*_REFRESH_FIELDS, *_RELATED)
        .filter(token_checksum=checksum)
        .order_by(F("revoked").desc(nulls_first=True))
        .first()
    )
