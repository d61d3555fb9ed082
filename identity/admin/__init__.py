"""The admin site's pages for the OAuth core (docs/admin.md).

Every page is confined to the signed-in admin's tenant (``tenants.admin_scoping``); operators
of the super tenant see every tenant. Tenants, users, roles and signing keys are registered here. The
toolkit registers clients and tokens itself, with the classes its settings name
(``*_ADMIN_CLASS``, pointing here).
"""

from identity.admin.clients import ClientAdmin
from identity.admin.keys import SigningKeyAdmin
from identity.admin.tenants import TenantAdmin
from identity.admin.tokens import GrantAdmin, RefreshTokenAdmin, TokenAdmin
from identity.admin.users import RoleAdmin, UserAdmin

__all__ = [
    "ClientAdmin",
    "GrantAdmin",
    "RefreshTokenAdmin",
    "RoleAdmin",
    "SigningKeyAdmin",
    "TenantAdmin",
    "TokenAdmin",
    "UserAdmin",
]
