"""``manage.py bootstrap``: the first run's super tenant, admin and demo data, idempotent
(docs/quickstart.md)."""

from __future__ import annotations

import dataclasses
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import check_password
from django.core.management import call_command

from deployment import DemoConfig, SuperAdminConfig
from identity.models import Client, Role, SigningKey, User
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

DEMO_CLIENT_ID = "rgfKVdnMQnJSSr_pKFTxj3apiwYa"
DEMO_CLIENT_SECRET = "BRebJ0aqfclQB9v7yZwhj0JfW0ga"
FIRST_PASSWORD = "pw-first"


@pytest.fixture
def configure(deployment_override):
    """Run with these [super_admin], [demo] and [tenant] super_tenant_domain."""

    def apply(*, password=FIRST_PASSWORD, create_admin=True, demo=False, super_tenant="carbon.super"):
        deployment_override(
            super_admin=SuperAdminConfig(
                username="admin", password=password, create_admin_account=create_admin
            ),
            demo=DemoConfig(enabled=demo),
            tenant=dataclasses.replace(settings.DEPLOYMENT.tenant, super_tenant_domain=super_tenant),
        )

    return apply


def bootstrap() -> list[str]:
    out = StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue().splitlines()


def snapshot() -> dict[str, list]:
    """Every row bootstrap may create, with the values it sets."""
    return {
        "tenants": sorted(Tenant.objects.values_list("domain", "name", "active")),
        "users": sorted(
            User.objects.all_tenants().values_list("tenant__domain", "username", "password", "is_superuser")
        ),
        "roles": sorted(Role.objects.all_tenants().values_list("tenant__domain", "name")),
        "keys": sorted(SigningKey.objects.all_tenants().values_list("tenant__domain", "kid")),
        "clients": sorted(
            Client.objects.all_tenants().values_list("tenant__domain", "client_id", "client_secret")
        ),
    }


class TestFirstRun:
    def test_super_tenant_and_its_admin(self, configure):
        configure()
        out = bootstrap()
        assert "created tenant carbon.super" in out
        assert "created user admin@carbon.super (superuser)" in out
        server = settings.DEPLOYMENT.server
        assert f"admin site: {settings.DEPLOYMENT.scheme}://{server.hostname}:{server.port}/admin/" in out
        admin = authenticate(None, username="admin", password="pw-first")
        assert admin is not None and admin.is_superuser and admin.is_staff
        root = Tenant.objects.get(domain="carbon.super")
        assert root.admin == admin  # createclient's default owner (docs/commands.md)
        assert SigningKey.objects.for_tenant(root).count() == 1
        assert not Tenant.objects.filter(domain="foo.com").exists()
        assert Client.objects.all_tenants().count() == 0

    def test_demo_data(self, configure):
        """The demo data: foo.com with admin/admin, and the WSO2 document's client in both tenants
        (docs/quickstart.md)."""
        configure(demo=True)
        out = bootstrap()
        assert "created tenant foo.com with user admin@foo.com" in out
        assert authenticate(None, username="admin@foo.com", password="admin") is not None
        clients = Client.objects.all_tenants().filter(client_id=DEMO_CLIENT_ID)
        assert sorted(clients.values_list("tenant__domain", flat=True)) == ["carbon.super", "foo.com"]
        foo = Tenant.objects.get(domain="foo.com")
        assert foo.admin.username == "admin"
        assert SigningKey.objects.for_tenant(foo).count() == 1

    @pytest.mark.parametrize("domain", ["carbon.super", "foo.com"])
    def test_demo_client(self, configure, domain):
        """The demo client is the same in both tenants: the document's secret, the grants and scopes
        its commands use (``internal_oauth2_introspect`` for a Janssen Bearer caller), owned by the
        tenant's admin."""
        configure(demo=True)
        bootstrap()
        tenant = Tenant.objects.get(domain=domain)
        client = Client.objects.for_tenant(tenant).get(client_id=DEMO_CLIENT_ID)
        assert client.client_type == Client.CLIENT_CONFIDENTIAL
        assert check_password(DEMO_CLIENT_SECRET, client.client_secret)
        assert sorted(client.grant_types) == ["client_credentials", "password", "refresh_token"]
        assert sorted(client.allowed_scopes) == ["internal_oauth2_introspect", "test1", "test2"]
        assert client.user == tenant.admin
        assert client.user.username == "admin"

    @pytest.mark.parametrize(("username", "create_admin"), [("root", True), ("admin", False)])
    def test_demo_client_of_another_super_admin(self, deployment_override, configure, username, create_admin):
        """The super tenant's demo client is owned by its admin, whatever [super_admin] names it,
        and by nobody without create_admin_account. Regression: bootstrap (and so ``make run``)
        stopped with "no user 'admin' in tenant carbon.super"."""
        configure(demo=True, create_admin=create_admin)
        deployment_override(
            super_admin=SuperAdminConfig(
                username=username, password=FIRST_PASSWORD, create_admin_account=create_admin
            )
        )
        bootstrap()
        root = Tenant.objects.get(domain="carbon.super")
        client = Client.objects.for_tenant(root).get(client_id=DEMO_CLIENT_ID)
        assert client.user == root.admin
        assert (client.user.username if client.user else None) == (username if create_admin else None)

    @pytest.mark.parametrize(
        ("demo", "create_admin", "sign_in"),
        [
            (False, True, ["admin (password from [super_admin])"]),
            (True, True, ["admin (password from [super_admin])", "admin@foo.com / admin (demo)"]),
            (True, False, ["admin@foo.com / admin (demo)"]),
            (False, False, []),
        ],
    )
    def test_prints_which_credentials_sign_in(self, configure, demo, create_admin, sign_in):
        """Where the admin is and who signs in there, on every run; never [super_admin]'s password."""
        configure(demo=demo, create_admin=create_admin)
        for _ in range(2):
            out = bootstrap()
            assert [line.removeprefix("  sign in as ") for line in out if "sign in" in line] == sign_in
            assert not [line for line in out if FIRST_PASSWORD in line]

    @pytest.mark.parametrize(
        ("port", "tls", "url"),
        [
            (9443, True, "https://localhost:9443"),
            (443, True, "https://localhost"),
            (80, False, "http://localhost"),
        ],
    )
    def test_prints_where_the_admin_is(self, configure, deployment_override, port, tls, url):
        """At the server's origin, a scheme's default port left out (it said https://localhost:443)."""
        configure()
        deployment_override(server=dataclasses.replace(settings.DEPLOYMENT.server, port=port, tls=tls))
        assert f"admin site: {url}/admin/" in bootstrap()

    def test_no_admin_account(self, configure):
        configure(password="", create_admin=False)
        bootstrap()
        assert Tenant.objects.get(domain="carbon.super").admin is None
        assert User.objects.all_tenants().count() == 0

    def test_another_super_tenant_domain(self, configure):
        configure(super_tenant="root.example")
        bootstrap()
        assert authenticate(None, username="admin@root.example", password="pw-first") is not None
        assert list(Tenant.objects.values_list("domain", flat=True)) == ["root.example"]


class TestIdempotent:
    """Bootstrap runs on every `make run`: a second run creates and changes nothing."""

    @pytest.mark.parametrize("demo", [False, True], ids=["plain", "demo"])
    def test_twice_gives_the_same_rows(self, configure, demo):
        configure(demo=demo)
        bootstrap()
        first = snapshot()
        out = bootstrap()
        assert snapshot() == first
        assert not [line for line in out if line.startswith("created")]

    def test_existing_admin_keeps_its_password(self, configure):
        configure(password="pw-first")
        bootstrap()
        configure(password="pw-second")
        bootstrap()
        assert authenticate(None, username="admin", password="pw-first") is not None
        assert authenticate(None, username="admin", password="pw-second") is None

    def test_missing_pieces_are_added(self, configure):
        configure(demo=True)
        bootstrap()
        Client.objects.all_tenants().filter(tenant__domain="foo.com").delete()
        out = bootstrap()
        assert out[:1] == [f"created client {DEMO_CLIENT_ID} in foo.com"]
        assert Client.objects.all_tenants().filter(client_id=DEMO_CLIENT_ID).count() == 2
