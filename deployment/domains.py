"""The syntax of a tenant domain, for the configuration and the ``Tenant`` model alike."""

from __future__ import annotations

import re

# Lower-case DNS labels of 1 to 63 letters, digits and inner hyphens, joined by dots
# (RFC 1035 §2.3.1, RFC 1123 §2.1): ``foo.com``, ``carbon.super``.
_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
MAX_LENGTH = 253  # RFC 1035 §2.3.4, without the final dot


def is_tenant_domain(value: str) -> bool:
    """Return whether ``value`` is a tenant domain: lower-case DNS labels joined by dots."""
    return len(value) <= MAX_LENGTH and _DOMAIN.fullmatch(value) is not None
