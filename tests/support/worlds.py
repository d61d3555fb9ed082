"""The data the in-process tests build, each world from the demo data.

The demo data is ``bootstrap()``'s, as the shipped deployment.toml asks for it: tenants
``carbon.super`` and ``foo.com``, each with ``admin``/``admin`` and the WSO2 document's client.
Each world adds what the tests of one surface need; build it once per module with the
``build_once`` fixture (tests/conftest.py).
"""

from __future__ import annotations

from types import SimpleNamespace

from identity import permissions
from identity.api.permissions import API_SCOPES
from identity.bootstrap import DEMO_CLIENT, bootstrap
from identity.models import Client, User
from identity.provisioning import create_tenant, create_user
from identity.services.clients import ClientSpec, create_client
from tenants.models import Tenant
from tests.support.api import MGMT_SECRET, PASSWORDS, VIEW_APPS
from tests.support.introspection import FOO, LOGIN, SUPER, make_token
from tests.support.oauth import ALICE, REDIRECT_URI


def fresh(row):
    """Return a new copy of ``row`` from the database, whatever its tenant: one to change while
    the module's shared row outlives the test, or to see what the test changed."""
    objects = type(row).objects
    return getattr(objects, "all_tenants", objects.all)().get(pk=row.pk)


def tenants_with_admins(*domains: str) -> dict[str, Tenant]:
    """Create the tenants ``domains`` (none of them the demo data), each with ``admin``/``admin``."""
    return {
        domain: create_tenant(domain, admin_username="admin", admin_password="admin") for domain in domains
    }


def introspection_world() -> SimpleNamespace:
    """Create the demo data and a few users with narrower permissions, in both tenants."""
    bootstrap()
    tenants = {domain: Tenant.objects.get(domain=domain) for domain in (SUPER, FOO)}
    clients = {
        domain: Client.objects.for_tenant(tenant).get(client_id=DEMO_CLIENT.client_id)
        for domain, tenant in tenants.items()
    }
    users = {
        domain: {
            "admin": User.objects.for_tenant(tenant).get(username="admin"),
            "viewer": create_user(tenant, "viewer", "viewer-pw", [permissions.INTROSPECT_VIEW]),
            "login": create_user(tenant, "login", "login-pw", [LOGIN]),
            "nobody": create_user(tenant, "nobody", "nobody-pw"),
        }
        for domain, tenant in tenants.items()
    }
    return SimpleNamespace(tenants=tenants, clients=clients, users=users)


def admin_token_world() -> SimpleNamespace:
    """The introspection world, and ``token``: an access token of the super tenant's admin."""
    world = introspection_world()
    world.token = make_token(world.clients[SUPER], user=world.users[SUPER]["admin"], scope="test1")
    return world


def oauth_world() -> SimpleNamespace:
    """Create the demo data and the extra tenant, users and clients; return them by name.

    Clients are ``(client_id, secret)`` pairs (``spa`` is public: its id only).
    """
    bootstrap()
    super_tenant = Tenant.objects.get(domain="carbon.super")
    foo = Tenant.objects.get(domain="foo.com")
    bar = create_tenant("bar.com", admin_username="admin", admin_password="bar-admin")
    create_user(foo, *ALICE)
    locked = create_user(foo, "locked", "locked-pw")
    locked.is_locked = True
    locked.save(update_fields=["is_locked"])
    inactive = create_user(foo, "inactive", "inactive-pw")
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])

    def client(tenant, **spec) -> tuple[str, str]:
        created, secret = create_client(tenant, ClientSpec(name=spec["client_id"], **spec))
        return created.client_id, secret

    world = SimpleNamespace(
        super=super_tenant,
        foo=foo,
        bar=bar,
        web=client(
            foo,
            client_id="webapp",
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
            scopes=["test1", "test2"],
        ),
        spa=client(
            foo,
            client_id="spa",
            public=True,
            grant_types=["authorization_code"],
            redirect_uris=[REDIRECT_URI],
        )[0],
        pwonly=client(foo, client_id="pwonly", grant_types=["password"], scopes=["test1"]),
        short=client(foo, client_id="short", grant_types=["client_credentials"]),
        api=client(
            foo,
            client_id="api",
            grant_types=["client_credentials"],
            audiences=["https://api.example", "https://other.example"],
        ),
        barclient=client(bar, client_id="barclient", grant_types=["client_credentials"]),
        jwt=client(foo, client_id="jwtapp", grant_types=["client_credentials"], token_format="jwt"),
    )
    foo.clients.filter(client_id="short").update(access_token_lifetime=120)
    return world


def api_world() -> SimpleNamespace:
    """Demo data, ``bar.com``, and in foo.com and bar.com a viewer, a nobody and the ``mgmt`` client."""
    bootstrap()
    foo = Tenant.objects.get(domain="foo.com")
    bar = create_tenant("bar.com", admin_username="admin", admin_password=PASSWORDS["bar.com"])
    for tenant in (foo, bar):
        create_user(tenant, "viewer", "viewer-pw", [VIEW_APPS])
        create_user(tenant, "nobody", "nobody-pw")
        create_client(
            tenant,
            ClientSpec(
                name="mgmt",
                client_id="mgmt",
                client_secret=MGMT_SECRET,
                grant_types=["client_credentials", "password"],
                owner="admin",
                scopes=sorted(API_SCOPES),
            ),
        )
    return SimpleNamespace(super=Tenant.objects.get(domain="carbon.super"), foo=foo, bar=bar)
