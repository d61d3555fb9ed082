"""Signing with a tenant's key, and rotation (SPEC §5, §9 ``rotatekeys``)."""

from __future__ import annotations

from datetime import timedelta

import jwt
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from identity.caching import ExpiringCache
from identity.conf import get_deployment
from identity.models import Client, SigningKey
from tenants.models import Tenant

# tenant id -> (SigningKey, its loaded private key). A rotation reaches other processes within
# this many seconds; both keys are in the JWKS meanwhile, so verifiers accept either.
_signers = ExpiringCache(ttl=30)


def clear_key_cache() -> None:
    """Forget this process's loaded signing keys (after a rotation)."""
    _signers.clear()


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
    signer = _signers.get(tenant.pk)
    if signer is None:
        key = current_key(tenant)
        signer = (key, key.load_private_key())
        _signers.set(tenant.pk, signer)
    key, private_key = signer
    return jwt.encode(claims, private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": typ})


def signing_algorithm(tenant: Tenant) -> str:
    """Return the algorithm ``tenant``'s JWTs are signed with now."""
    return current_key(tenant).algorithm


@transaction.atomic
def rotate(tenant: Tenant, algorithm: str | None = None) -> SigningKey:
    """Make a new signing key; the old ones stay published until their last token expires."""
    keys = SigningKey.objects.for_tenant(tenant)
    previous = keys.filter(active=True).first()
    new_key = SigningKey.generate(tenant, algorithm or (previous.algorithm if previous else "RS256"))
    keys.filter(active=True).exclude(pk=new_key.pk).update(
        active=False, publish_until=timezone.now() + timedelta(seconds=longest_token_lifetime(tenant))
    )
    clear_key_cache()
    return new_key


def longest_token_lifetime(tenant: Tenant) -> int:
    """Return the longest an access token of ``tenant`` can live, in seconds."""
    default = get_deployment().oauth.access_token_validity
    longest = Client.objects.for_tenant(tenant).aggregate(longest=Max("access_token_lifetime"))["longest"]
    return max(default, longest or 0)
