"""Split a request path into its tenant and the path the URLconf sees (docs/architecture.md).

``/t/foo.com/oauth2/token`` is tenant ``foo.com`` and path ``/oauth2/token``; any path not under
``/t/`` belongs to the super tenant.
"""

from __future__ import annotations

from typing import NamedTuple

PREFIX = "/t/"


class TenantPath(NamedTuple):
    domain: str | None  # None: the super tenant (no /t/ prefix)
    prefix: str  # what to strip: '/t/<domain>' or ''
    rest: str  # the path left for URL routing, always starting with '/'


def split_tenant_path(path: str) -> TenantPath:
    """Return the tenant domain named by ``path`` (or None) and the path without it."""
    if not path.startswith(PREFIX):
        # '/t' alone is no tenant either: it routes (and 404s) like any unknown path.
        return TenantPath(None, "", path)
    domain, slash, rest = path[len(PREFIX) :].partition("/")
    return TenantPath(domain, PREFIX + domain, slash + rest if slash else "/")
