"""Find the token a caller presents, from the process's cache when it was seen before.

A token is looked up by the digest of what the caller presents (tokens are stored only as
digests). The first sight is one indexed read of its table; after that the token, its client
and its user come from ``tenants.cache`` until the token expires or a change names it (a
revocation, a change of its client, user or tenant). Unknown tokens are never kept as
unknown, so a token that exists is never answered inactive because of the cache.

``token_type_hint`` only orders the search (RFC 7662 §2.1): a wrong or unknown hint still
finds the token, a refresh token included.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import F, Model
from django.utils import timezone

from identity.models import AccessToken, Client, RefreshToken, User
from identity.models.tokens import token_checksum
from tenants.cache import Tag, cached
from tenants.prepared import PreparedQuery

M = TypeVar("M", bound=Model)

# What a response needs, and no more: the reads stay narrow.
_CLIENT_FIELDS = (
    "client_id",
    "active",
    "tenant_id",
    "token_format",
    "introspection_scripts",
    "use_tenant_domain_in_local_subject_identifier",
    "use_user_store_domain_in_local_subject_identifier",
)
_USER_FIELDS = ("username", "tenant_id", "is_active", "is_locked")
_ACCESS_FIELDS = (
    *("tenant_id", "application", "user", "scope", "expires", "created", "resource", "jti", "grant_type"),
    "revoked",
)
_REFRESH_FIELDS = ("tenant_id", "application", "user", "expires", "created", "resource", "jti", "revoked")


class _Unknown(LookupError):
    """No token has this digest: nothing to keep in the cache."""


def find_token(token: str, hint: str = "") -> AccessToken | RefreshToken | None:
    """Return the access or refresh token whose digest matches ``token``, or None."""
    checksum = token_checksum(token)
    try:
        return cached("token", checksum, lambda: _load(checksum, hint), token_tags, _seconds_left)
    except _Unknown:
        return None


def token_tags(token: AccessToken | RefreshToken) -> list[Tag]:
    """The rows a cached token's state was built from."""
    tags: list[Tag] = [("t", token.tenant_id), ("c", token.application_id)]
    if isinstance(token, RefreshToken):
        tags += [("rt", token.pk), ("at", token.access_token_id)]
    else:
        tags.append(("at", token.pk))
    if token.user_id is not None:
        tags.append(("u", token.user_id))
    return tags


def _seconds_left(token: AccessToken | RefreshToken) -> float | None:
    if token.expires is None:
        return None
    return (token.expires - timezone.now()).total_seconds()


def _load(checksum: str, hint: str) -> AccessToken | RefreshToken:
    finders = (_refresh_token, _access_token) if hint == "refresh_token" else (_access_token, _refresh_token)
    for find in finders:
        found = find(checksum)
        if found is not None:
            if found.application_id is not None:
                found.application = client_row(found.application_id)
            if found.user_id is not None:
                found.user = user_row(found.user_id)
            return found
    raise _Unknown()


# One table, one unique index. A slice, not .first(), whose ORDER BY id would cost a sort.
# Compiled once: building and compiling the queryset cost more than running it.
_ACCESS_TOKEN = PreparedQuery(
    AccessToken,
    lambda checksum: (
        AccessToken.objects.all_tenants().only(*_ACCESS_FIELDS).filter(token_checksum=checksum)[:1]
    ),
)


def _access_token(checksum: str) -> AccessToken | None:
    return _ACCESS_TOKEN.first(checksum)


def _refresh_token(checksum: str) -> RefreshToken | None:
    # Rows may share a digest ((checksum, revoked) is unique): prefer the unrevoked one.
    return (
        RefreshToken.objects.all_tenants()
        .select_related("access_token")
        .only(*_REFRESH_FIELDS, "access_token__scope")
        .filter(token_checksum=checksum)
        .order_by(F("revoked").desc(nulls_first=True))
        .first()
    )


def client_row(pk: int) -> Client:
    """Return client ``pk`` with what introspection needs, from the cache or one read."""
    return cached(
        "client-row",
        pk,
        lambda: _row(Client, _CLIENT_FIELDS, pk),
        lambda client: [("c", pk), ("t", client.tenant_id)],
    )


def user_row(pk: int) -> User:
    """Return user ``pk`` with what introspection needs, from the cache or one read."""
    return cached(
        "user-row",
        pk,
        lambda: _row(User, _USER_FIELDS, pk),
        lambda user: [("u", pk), ("t", user.tenant_id)],
    )


def _row(model: type[M], fields: tuple[str, ...], pk: int) -> M:
    row: M = model.objects.all_tenants().only(*fields).get(pk=pk)  # type: ignore[attr-defined]
    return row
