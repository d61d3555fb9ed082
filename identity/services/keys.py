"""Signing keys of a tenant: rotation (RFC 7517 key sets; docs/api.md)."""

from __future__ import annotations

from django.db import transaction

from identity import audit, keys
from identity.models import SigningKey
from tenants.models import Tenant


@transaction.atomic
def rotate_key(tenant: Tenant, *, actor: str, algorithm: str | None = None) -> SigningKey:
    """Make a new signing key for ``tenant``; the old ones stay published until their tokens expire."""
    key = keys.rotate(tenant, algorithm)
    audit.record("key.rotated", actor=actor, tenant=tenant.domain, kid=key.kid, algorithm=key.algorithm)
    return key
