"""Signing with a tenant's key, and rotation (docs/clients-and-grants.md, docs/commands.md ``rotatekeys``)."""

from __future__ import annotations

from datetime import timedelta

import jwt
from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from deployment.current import get_deployment
from identity.models import Client, SigningKey
from tenants.cache import cached
from tenants.models import Tenant


def current_key(tenant: Tenant) -> SigningKey:
    """Return the key that signs ``tenant``'s JWTs now (the newest active one)."""
    key = SigningKey.objects.for_tenant(tenant).filter(active=True).first()
    if key is None:
        raise SigningKey.DoesNotExist(
            f"tenant {tenant.domain} has no signing key; run `manage.py rotatekeys`"
        )
    return key


def sign(tenant: Tenant, claims: dict, typ: str) -> str:
    """Return ``claims`` as a JWS (RFC 7515) signed with ``tenant``'s current key, ``typ`` in its header."""
    key, private_key = cached(
        "signer",
        tenant.pk,
        lambda: _signer(tenant),
        # A rotation saves the tenant's keys, which names ("k", tenant): every process signs
        # with the new key from its next token on.
        lambda signer: [("k", tenant.pk), ("t", tenant.pk)],
    )
    return jwt.encode(claims, private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": typ})


def _signer(tenant: Tenant):
    key = current_key(tenant)
    return key, key.load_private_key()


def signing_algorithm(tenant: Tenant) -> str:
    """Return the algorithm ``tenant``'s JWTs are signed with now."""
    return current_key(tenant).algorithm


class KeyLimitReached(Exception):
    """A rotation would publish more keys than ``[oauth] max_published_signing_keys`` allows."""


@transaction.atomic
def rotate(tenant: Tenant, algorithm: str | None = None) -> SigningKey:
    """Make a new signing key; the old ones stay published until their last token expires.

    Refused with ``KeyLimitReached`` when the tenant would then publish more keys than
    deployment.toml allows: no published key is dropped to make room, since every token it
    signed would stop verifying (docs/keys.md#how-many-keys)."""
    # Rotations of one tenant take turns: two at once cannot both pass the count below.
    Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
    now = timezone.now()
    keys = SigningKey.objects.for_tenant(tenant)
    published = Q(active=True) | Q(publish_until__gt=now)
    # A retired key whose tokens have all expired signs and publishes nothing: only its
    # private key would stay behind, one more with every rotation.
    keys.exclude(published).delete()
    limit = get_deployment().oauth.max_published_signing_keys
    count = keys.filter(published).count()
    if count >= limit:
        raise KeyLimitReached(_limit_reached(tenant, count, limit, keys.filter(published, active=False)))
    previous = keys.filter(active=True).first()
    new_key = SigningKey.generate(tenant, algorithm or (previous.algorithm if previous else "RS256"))
    keys.filter(active=True).exclude(pk=new_key.pk).update(
        active=False, publish_until=now + timedelta(seconds=longest_token_lifetime(tenant))
    )
    return new_key


def _limit_reached(tenant: Tenant, count: int, limit: int, retired) -> str:
    message = (
        f"tenant {tenant.domain} publishes {count} signing keys, at most {limit} "
        "([oauth] max_published_signing_keys); no key rotated"
    )
    first_leaving = retired.aggregate(first=Min("publish_until"))["first"]
    if first_leaving is not None:
        message += (
            f". The oldest retired key leaves the JWKS at {first_leaving:%Y-%m-%dT%H:%M:%SZ}, when its "
            "tokens have expired: rotate after that, or end its publication first (docs/keys.md)"
        )
    return message


def longest_token_lifetime(tenant: Tenant) -> int:
    """Return the longest an access token of ``tenant`` can live, in seconds."""
    default = get_deployment().oauth.access_token_validity
    longest = Client.objects.for_tenant(tenant).aggregate(longest=Max("access_token_lifetime"))["longest"]
    return max(default, longest or 0)
