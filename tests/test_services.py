"""The service layer (identity.services): one function per change, one transaction, one audit
record naming the actor and never a secret."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from identity import permissions
from identity.models import AccessToken, Client, RefreshToken, Role, SigningKey, User
from identity.services import keys as key_service
from identity.services import tenants as tenant_service
from identity.services import tokens as token_service
from identity.services import users as user_service
from identity.services.clients import delete_client
from tenants.models import Tenant
from tests.support.audit import is_change
from tests.support.oauth import DEMO, issue, password_grant, refresh_grant, stored, stored_refresh
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

ACTOR = "admin@foo.com"


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = oauth_world()
        Role.objects.create(tenant=world.foo, name="auditors", permissions=["/permission/admin/login"])
        Role.objects.create(tenant=world.bar, name="auditors", permissions=["/permission/admin"])
        return world

    return build_once(make)


@pytest.fixture
def audit_log(caplog):
    caplog.set_level("INFO", logger="audit")

    def records() -> list[dict]:
        return [
            record.audit for record in caplog.records if record.name == "audit" and is_change(record.audit)
        ]

    return records


def user(world, name: str = "alice") -> User:
    return User.objects.for_tenant(world.foo).get(username=name)


class TestUsers:
    def test_create_user_with_roles_and_permissions(self, world, audit_log):
        created = user_service.create_user(
            world.foo,
            "carol",
            "carol-pw",
            roles=["auditors"],
            email="carol@example.org",
            permissions=[permissions.INTROSPECT_VIEW],
            actor=ACTOR,
        )
        assert created.check_password("carol-pw") and created.email == "carol@example.org"
        assert created.permission_paths() == {"/permission/admin/login", permissions.INTROSPECT_VIEW}
        assert audit_log() == [
            {
                "event": "user.created",
                "actor": ACTOR,
                "tenant": "foo.com",
                "user": "carol",
                "user_id": created.pk,
                "roles": ["auditors", "user:carol"],
            }
        ]
        assert "carol-pw" not in json.dumps(audit_log())

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"username": "alice"}, "username"),
            ({"roles": ["nope"]}, "roles"),
            ({"permissions": ["not-a-path"]}, "permissions"),
        ],
    )
    def test_create_user_refused_leaves_nothing(self, world, kwargs, field):
        args = {"username": "dave", "password": "pw", **kwargs}
        users, roles = User.objects.all_tenants().count(), Role.objects.all_tenants().count()
        with pytest.raises(ValidationError) as raised:
            user_service.create_user(
                world.foo, args.pop("username"), args.pop("password"), actor=ACTOR, **args
            )
        assert field in raised.value.message_dict
        assert (User.objects.all_tenants().count(), Role.objects.all_tenants().count()) == (users, roles)

    def test_role_of_another_tenant_is_refused(self, world):
        bar_role = Role.objects.for_tenant(world.bar).get(name="auditors")
        with pytest.raises(ValidationError):
            user_service.set_roles(user(world), [bar_role], actor=ACTOR)
        assert not user(world).roles.exists()

    def test_set_roles_replaces_them(self, world, audit_log):
        alice = user(world)
        user_service.set_roles(alice, ["auditors"], actor=ACTOR)
        assert alice.permission_paths() == {"/permission/admin/login"}
        user_service.set_roles(alice, [], actor=ACTOR)
        assert user(world).permission_paths() == set()
        assert [record["roles"] for record in audit_log()] == [["auditors"], []]

    def test_set_password(self, world, audit_log):
        user_service.set_password(user(world), "another-pw", actor=ACTOR)
        assert user(world).check_password("another-pw")
        (record,) = audit_log()
        assert record["event"] == "user.password_changed" and record["usable"] is True
        assert "another-pw" not in json.dumps(record)

    def test_delete_user(self, client, world, audit_log):
        body = password_grant(client)
        alice = user(world)
        user_service.delete_user(alice, actor=ACTOR)
        assert not User.objects.for_tenant(world.foo).filter(username="alice").exists()
        assert not AccessToken.objects.for_tenant(world.foo).filter(user_id=alice.pk).exists()
        assert audit_log()[-1]["event"] == "user.deleted" and audit_log()[-1]["tokens_revoked"] == 2
        assert refresh_grant(client, body["refresh_token"]).status_code == 400

    def test_a_user_owning_clients_is_not_deleted(self, world):
        """The owner foreign key cascades: deleting the owner would silently delete its clients."""
        admin = user(world, "admin")
        with pytest.raises(ValidationError) as raised:
            user_service.delete_user(admin, actor=ACTOR)
        assert DEMO[0] in str(raised.value)
        assert Client.objects.for_tenant(world.foo).filter(client_id=DEMO[0]).exists()

    def test_lock_costs_the_same_however_many_tokens(self, client, world):
        """Bulk UPDATEs through the tenant-scoped managers, never one save per token."""
        costs = []
        for name, tokens in (("viewer1", 1), ("viewer5", 5)):
            user_service.create_user(world.foo, name, "pw", actor=ACTOR)
            for _ in range(tokens):
                password_grant(client, user=(name, "pw"))
            with CaptureQueriesContext(connection) as queries:
                user_service.lock_user(user(world, name), actor=ACTOR)
            costs.append(len(queries))
            assert (
                not AccessToken.objects.for_tenant(world.foo)
                .filter(user=user(world, name), revoked=None)
                .exists()
            )
        assert costs[0] == costs[1]


class TestTokens:
    def test_revoke_access_token_revokes_its_refresh_token(self, client, world, audit_log):
        body = password_grant(client)
        token_service.revoke_token(stored(body["access_token"]), actor="client:x")
        assert stored_refresh(body["refresh_token"]).revoked is not None
        (record,) = audit_log()
        assert record["event"] == "token.revoked" and record["token_type"] == "access_token"
        assert body["access_token"] not in json.dumps(record)

    def test_revoke_refresh_token_revokes_its_grants_access_tokens(self, client, world):
        first = password_grant(client)
        second = json.loads(refresh_grant(client, first["refresh_token"]).content)
        token_service.revoke_token(stored_refresh(second["refresh_token"]), actor=ACTOR)
        for access in (first["access_token"], second["access_token"]):
            assert stored(access).revoked is not None

    @pytest.mark.parametrize("whose", ["user", "client", "tenant"])
    def test_bulk_revocations_count(self, client, world, audit_log, whose):
        password_grant(client)  # alice: an access and a refresh token
        app_token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        bar_token = issue(client, "carbon.super", {"grant_type": "client_credentials"})["access_token"]
        if whose == "user":
            count = token_service.revoke_user_tokens(user(world), actor=ACTOR)
        elif whose == "client":
            count = token_service.revoke_client_tokens(
                Client.objects.for_tenant(world.foo).get(client_id=DEMO[0]), actor=ACTOR
            )
        else:
            count = token_service.revoke_tenant_tokens(world.foo, actor=ACTOR)
        assert count == (2 if whose == "user" else 3)
        assert (stored(app_token).revoked is None) is (whose == "user")
        assert stored(bar_token).revoked is None  # another tenant's
        assert audit_log()[-1] == {
            "event": f"{whose}.tokens_revoked",
            "actor": ACTOR,
            "tenant": "foo.com",
            "tokens": count,
            **_named(whose),
        }


WRITES_OF_BOTH_TABLES = {
    "revoke an access token": lambda client, world, body: token_service.revoke_token(
        stored(body["access_token"]), actor=ACTOR
    ),
    "revoke a refresh token": lambda client, world, body: token_service.revoke_token(
        stored_refresh(body["refresh_token"]), actor=ACTOR
    ),
    "refresh grant": lambda client, world, body: refresh_grant(client, body["refresh_token"]),
    "revoke a user's tokens": lambda client, world, body: token_service.revoke_user_tokens(
        user(world), actor=ACTOR
    ),
    "revoke a client's tokens": lambda client, world, body: token_service.revoke_client_tokens(
        Client.objects.for_tenant(world.foo).get(client_id=DEMO[0]), actor=ACTOR
    ),
    "revoke a tenant's tokens": lambda client, world, body: token_service.revoke_tenant_tokens(
        world.foo, actor=ACTOR
    ),
    "reuse of a spent refresh token": lambda client, world, body: (
        refresh_grant(client, body["refresh_token"]),
        refresh_grant(client, body["refresh_token"]),
    ),
}


@pytest.mark.parametrize("write", WRITES_OF_BOTH_TABLES)
def test_refresh_tokens_are_written_before_access_tokens(client, world, write):
    """One lock order for every writer (refresh tokens, then access tokens): a revocation racing
    a refresh of the same grant on PostgreSQL once deadlocked, and one of them answered 503."""
    body = password_grant(client)
    with CaptureQueriesContext(connection) as queries:
        WRITES_OF_BOTH_TABLES[write](client, world, body)
    tables = [
        table
        for query in queries.captured_queries
        if query["sql"].startswith("UPDATE")
        for table in ("identity_refreshtoken", "identity_accesstoken")
        if query["sql"].startswith(f'UPDATE "{table}"')
    ]
    assert tables and tables.index("identity_refreshtoken") < tables.index("identity_accesstoken"), tables


def _named(whose: str) -> dict:
    return {"user": {"user": "alice"}, "client": {"client_id": DEMO[0]}, "tenant": {}}[whose]


class TestTenants:
    def test_create_tenant(self, world, audit_log):
        tenant = tenant_service.create_tenant(
            "baz.com", admin_username="root", admin_password="pw", actor="command"
        )
        admin = User.objects.for_tenant(tenant).get(username="root")
        assert admin.is_tenant_admin and admin.is_staff and not admin.is_superuser
        assert SigningKey.objects.for_tenant(tenant).count() == 1
        assert audit_log() == [
            {
                "event": "tenant.created",
                "actor": "command",
                "tenant": "baz.com",
                "tenant_id": tenant.pk,
                "admin": "root",
            }
        ]

    def test_create_tenant_refused_leaves_nothing(self, world):
        before = Tenant.objects.count()
        with pytest.raises(ValidationError):
            tenant_service.create_tenant("qux.com", admin_username="", admin_password="pw", actor="command")
        with pytest.raises(ValidationError):
            tenant_service.create_tenant("foo.com", admin_username="a", admin_password="pw", actor="command")
        assert Tenant.objects.count() == before

    def test_super_tenant_cannot_be_deactivated(self, world):
        with pytest.raises(ValidationError):
            tenant_service.deactivate_tenant(world.super, actor="command")
        assert Tenant.objects.get(pk=world.super.pk).active


class TestClientsAndKeys:
    def test_delete_client(self, client, world, audit_log):
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        demo = Client.objects.for_tenant(world.foo).get(client_id=DEMO[0])
        delete_client(demo, actor=ACTOR)
        assert not AccessToken.objects.for_tenant(world.foo).filter(application_id=demo.pk).exists()
        assert not Client.objects.for_tenant(world.foo).filter(client_id=DEMO[0]).exists()
        assert not RefreshToken.objects.for_tenant(world.foo).filter(application_id=demo.pk).exists()
        assert audit_log()[-1]["event"] == "client.deleted"
        assert token not in json.dumps(audit_log())

    def test_rotate_key(self, world, audit_log):
        key = key_service.rotate_key(world.foo, algorithm="ES256", actor=ACTOR)
        assert key.algorithm == "ES256" and key.active
        assert audit_log() == [
            {
                "event": "key.rotated",
                "actor": ACTOR,
                "tenant": "foo.com",
                "kid": key.kid,
                "algorithm": "ES256",
            }
        ]
