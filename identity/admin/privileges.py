"""What a signed-in admin may hand out: never more than it holds (no privilege escalation).

Only an operator (a super-tenant superuser) creates or changes superusers, sets the staff flag or
sets another admin's password. Everyone else grants only the permission paths it holds itself,
hierarchically: a tenant admin holding ``/permission/admin`` may give
``/permission/admin/login``, never ``/permission``. See docs/security.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError

from identity import permissions
from identity.services.users import check_may_act_on
from tenants.admin_scoping import is_operator


def not_held(actor, paths: Iterable[str]) -> list[str]:
    """Return the paths of ``paths`` that ``actor`` may not grant (none for an operator)."""
    if is_operator(actor):
        return []
    held = actor.permission_paths() if actor.can_authenticate else set()
    return sorted(p for p in set(paths) if not permissions.holds_any(held, [p]))


def may_manage_user(actor, target) -> bool:
    """Return whether ``actor`` may change ``target``: an operator any; others no superuser."""
    return is_operator(actor) or not target.is_superuser


def may_act_as(actor, target) -> bool:
    """Return whether ``actor`` may take ``target``'s powers: set its password, own a client
    with it, rotate the secret of a client it owns (the rule: ``check_may_act_on``)."""
    try:
        check_may_act_on(target, actor, taking=True)
    except (PermissionDenied, ValidationError):
        return False
    return True
