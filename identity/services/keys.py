"""Rotate a tenant's signing key (RFC 7517 key rollover through the JWKS)."""

from __future__ import annotations

from django.db import transaction

from identity import audit
from identity.models import SigningKey
from identity.signing import rotate
from tenants.models import Tenant


@transaction.atomic
def rotate_key(tenant: Tenant, *, algorithm: str | None = None, actor: str) -> SigningKey:
    """Give ``tenant`` a new signing key; the old ones stay published until their tokens expire."""
    key = rotate(tenant, algorithm)
    audit.record("key.rotated", actor=actor, tenant=tenant.domain, kid=key.kid, algorithm=key.algorithm)
    return key
