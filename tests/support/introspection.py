"""Data and requests shared by the introspection endpoint's tests (docs/introspection.md).

The world is the demo data (docs/quickstart.md: tenants ``carbon.super`` and ``foo.com``, each with
``admin``/``admin`` and the WSO2 document's client), plus users holding narrower permissions.
Tokens are rows made with a known raw value: only their digest is stored, as the token endpoint
stores them.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from deployment import Deployment, loads
from identity.bootstrap import DEMO_CLIENT
from identity.models import AccessToken, Client, RefreshToken, User
from identity.models.tokens import token_checksum
from identity.services.clients import ClientSpec, create_client
from tenants.models import Tenant

CLIENT_ID = DEMO_CLIENT.client_id
CLIENT_SECRET = DEMO_CLIENT.client_secret
SUPER = settings.DEPLOYMENT.tenant.super_tenant_domain
FOO = "foo.com"
LOGIN = "/permission/admin/login"

# The endpoint of each tenant (docs/architecture.md): the super tenant's at the root.
ENDPOINT = {SUPER: "/oauth2/introspect", FOO: "/t/foo.com/oauth2/introspect"}
TOKEN_ENDPOINT = {SUPER: "/oauth2/token", FOO: "/t/foo.com/oauth2/token"}
# Every caller-authentication handler accepted at the introspection endpoint, over plain HTTP too.
EVERY_HANDLER = """
[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
secure = false
allowed_auth_handlers = ["BasicAuthentication", "BasicClientAuthentication", "OAuthAuthentication"]
"""

# Client and user callers at every tenant's endpoint (Basic), over TLS.
CLIENT_AND_USER_CALLERS = """
[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
allowed_auth_handlers = ["BasicClientAuthentication", "BasicAuthentication"]
"""


def configured(toml: str) -> Deployment:
    """Return the configuration that the deployment.toml text ``toml`` gives (regexes compiled).

    Pass its sections to the ``deployment_override`` fixture.
    """
    return loads(toml + '\n[super_admin]\npassword = "unused"\n')


def make_client(tenant: Tenant, client_id: str, **spec) -> Client:
    """Create a confidential client ``client_id`` whose secret is ``client_id + '-secret'``."""
    spec.setdefault("grant_types", ["client_credentials", "password", "refresh_token"])
    spec.setdefault("scopes", ["test1", "test2", "internal_oauth2_introspect"])
    client, _ = create_client(
        tenant, ClientSpec(name=client_id, client_id=client_id, client_secret=client_id + "-secret", **spec)
    )
    return client


def make_token(
    client: Client,
    *,
    user: User | str | None = "owner",
    scope: str = "",
    grant_type: str = "client_credentials",
    expires_in: int = 3600,
    resource: tuple[str, ...] = (),
    revoked: bool = False,
) -> str:
    """Store an access token of ``client`` and return its raw value (the owner's by default)."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    AccessToken.objects.create(
        tenant=client.tenant,
        application=client,
        user=client.user if user == "owner" else user,
        scope=scope,
        grant_type=grant_type,
        expires=now + timedelta(seconds=expires_in),
        resource=list(resource),
        revoked=now if revoked else None,
        token_checksum=token_checksum(raw),
    )
    return raw


def make_refresh_token(client: Client, user: User, *, scope: str = "", expires_in: int = 86400) -> str:
    """Store a password-grant access token with its refresh token; return the refresh token."""
    access = AccessToken.objects.all_tenants().get(
        token_checksum=token_checksum(make_token(client, user=user, scope=scope, grant_type="password"))
    )
    raw = secrets.token_urlsafe(32)
    RefreshToken.objects.create(
        tenant=client.tenant,
        application=client,
        user=user,
        access_token=access,
        expires=timezone.now() + timedelta(seconds=expires_in),
        token_checksum=token_checksum(raw),
    )
    return raw
