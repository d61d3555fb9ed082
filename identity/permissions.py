"""WSO2-style permission paths, checked hierarchically (docs/admin.md).

Holding ``/permission/admin`` grants ``/permission/admin/manage/identity/applicationmgt/view``
and everything else below it: a held path grants itself and every path it is a prefix of, segment
by segment (``/permission/admin`` does not grant ``/permission/administrator``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ADMIN = "/permission/admin"
INTROSPECT_VIEW = "/permission/admin/manage/identity/applicationmgt/view"

PERMISSION_PATH = re.compile(r"^/permission(/[A-Za-z0-9_.-]+)*$")

# The tree shown to tenant admins when they assign permissions (the paths WSO2 documents for
# the features this server has). Any well-formed path may be assigned.
KNOWN_PERMISSIONS = (
    "/permission/admin",
    "/permission/admin/login",
    "/permission/admin/manage",
    "/permission/admin/manage/identity",
    "/permission/admin/manage/identity/applicationmgt",
    "/permission/admin/manage/identity/applicationmgt/view",
    "/permission/admin/manage/identity/applicationmgt/create",
    "/permission/admin/manage/identity/applicationmgt/update",
    "/permission/admin/manage/identity/applicationmgt/delete",
    "/permission/admin/manage/identity/usermgt",
    "/permission/admin/manage/identity/usermgt/view",
    "/permission/admin/manage/identity/usermgt/create",
    "/permission/admin/manage/identity/usermgt/update",
    "/permission/admin/manage/identity/usermgt/delete",
    "/permission/admin/manage/identity/rolemgt",
    "/permission/admin/manage/identity/rolemgt/view",
    "/permission/admin/manage/identity/rolemgt/create",
    "/permission/admin/manage/identity/rolemgt/update",
    "/permission/admin/manage/identity/rolemgt/delete",
    "/permission/admin/manage/identity/tokenmgt",
    "/permission/admin/manage/identity/tokenmgt/view",
    "/permission/admin/manage/identity/tokenmgt/revoke",
)


def is_valid_path(path: str) -> bool:
    return bool(PERMISSION_PATH.match(path))


def grants(held: str, wanted: str) -> bool:
    """Return whether holding ``held`` grants ``wanted`` (equal, or an ancestor of it)."""
    held = held.rstrip("/")
    return wanted == held or wanted.startswith(held + "/")


def holds_any(held: Iterable[str], wanted: Iterable[str]) -> bool:
    """Return whether any of the ``held`` paths grants any of the ``wanted`` ones."""
    held = tuple(held)
    return any(grants(h, w) for w in wanted for h in held)
