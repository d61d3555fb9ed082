"""Who may call the management API (docs/api.md): the scope/permission matrix, re-checks at
use, no escalation, and the cross-tenant table (a tenant's caller never reaches another's rows)."""

from __future__ import annotations

import pytest

from identity.api.permissions import permission_path, scope_name
from identity.models import AccessToken, Client, Role, SigningKey, User
from identity.provisioning import ADMIN_ROLE, create_admin, create_user
from identity.services.clients import ClientSpec, create_client
from tests.support.api import MGMT_SECRET, admin_of, call, mgmt_bearer
from tests.support.auth import basic_auth
from tests.support.introspection import configured, make_token
from tests.support.oauth import token_request
from tests.support.worlds import api_world

RESOURCES = ("applicationmgt", "rolemgt")
VERBS = ("view", "create", "update", "delete")


def make_world():
    world = api_world()
    for resource in RESOURCES:
        for verb in VERBS:
            create_user(world.foo, f"{resource}-{verb}", "pw", [permission_path(resource, verb)])
    Role.objects.create(tenant=world.foo, name="spare", permissions=[])
    Role.objects.create(tenant=world.bar, name="spare", permissions=[])
    for tenant in (world.foo, world.bar):
        make_token(Client.objects.for_tenant(tenant).get(client_id="mgmt"), scope="test1")
    # A staff admin of the super tenant who is no superuser, and a second admin of foo.com.
    deputy = create_admin(world.super, "deputy", "deputy-pw")
    User.objects.for_tenant(world.super).filter(pk=deputy.pk).update(is_superuser=False)
    create_admin(world.foo, "peer", "peer-pw")
    # Owned by a user holding nothing: any caller may take it (rotate its secret).
    create_client(
        world.foo,
        ClientSpec(name="weak", client_id="weak", grant_types=["client_credentials"], owner="nobody"),
    )
    return world


pytestmark = [pytest.mark.django_db, pytest.mark.long(5)]


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(make_world)


def role_id(tenant, name="spare") -> int:
    return Role.objects.for_tenant(tenant).get(name=name).pk


# method, path (under api/v1/), resource, verb, body
OPERATIONS = [
    ("GET", "clients", "applicationmgt", "view", None),
    ("GET", "clients/mgmt", "applicationmgt", "view", None),
    ("POST", "clients", "applicationmgt", "create", {"name": "n", "grant_types": ["client_credentials"]}),
    ("PATCH", "clients/weak", "applicationmgt", "update", {"name": "renamed"}),
    ("POST", "clients/weak/rotate-secret", "applicationmgt", "update", None),
    ("GET", "keys", "applicationmgt", "view", None),
    ("POST", "keys/rotate", "applicationmgt", "update", {}),
    ("GET", "roles", "rolemgt", "view", None),
    ("GET", "roles/{role}", "rolemgt", "view", None),
    ("POST", "roles", "rolemgt", "create", {"name": "new", "permissions": []}),
    ("PATCH", "roles/{role}", "rolemgt", "update", {"name": "renamed"}),
    ("DELETE", "roles/{role}", "rolemgt", "delete", None),
]
IDS = [f"{method} {path}" for method, path, *_ in OPERATIONS]


def password_token(http, username: str, scope: str, password: str = "pw") -> dict[str, str]:  # noqa: S107
    """A token of foo.com's mgmt client for ``username`` (the password grant acts for the user)."""
    return mgmt_bearer(
        http, "foo.com", scope=scope, grant_type="password", username=username, password=password
    )


@pytest.mark.parametrize(("method", "path", "resource", "verb", "body"), OPERATIONS, ids=IDS)
class TestMatrix:
    """Each operation against each kind of caller: only the one holding its permission (and,
    with a token, its scope) gets through."""

    def run(self, http, world, method, path, headers, body):
        return call(http, method, "foo.com", path.format(role=role_id(world.foo)), headers, body)

    def test_a_user_holding_the_permission_passes(self, client, world, method, path, resource, verb, body):
        headers = basic_auth(f"{resource}-{verb}@foo.com", "pw")
        response = self.run(client, world, method, path, headers, body)
        assert response.status_code < 300, response.content

    def test_a_user_holding_another_verb_is_403(self, client, world, method, path, resource, verb, body):
        other = VERBS[(VERBS.index(verb) + 1) % len(VERBS)]
        response = self.run(
            client, world, method, path, basic_auth(f"{resource}-{other}@foo.com", "pw"), body
        )
        assert response.status_code == 403, response.content
        assert permission_path(resource, verb) in response.json()["detail"]

    def test_a_user_of_another_resource_is_403(self, client, world, method, path, resource, verb, body):
        other = RESOURCES[1 - RESOURCES.index(resource)]
        response = self.run(client, world, method, path, basic_auth(f"{other}-{verb}@foo.com", "pw"), body)
        assert response.status_code == 403

    def test_a_token_with_the_scope_of_a_user_holding_it_passes(
        self, client, world, method, path, resource, verb, body
    ):
        headers = password_token(client, f"{resource}-{verb}", scope_name(resource, verb))
        response = self.run(client, world, method, path, headers, body)
        assert response.status_code < 300, response.content

    def test_a_token_without_the_scope_is_403(self, client, world, method, path, resource, verb, body):
        other = VERBS[(VERBS.index(verb) + 1) % len(VERBS)]
        headers = mgmt_bearer(client, "foo.com", scope=scope_name(resource, other))
        response = self.run(client, world, method, path, headers, body)
        assert response.status_code == 403
        assert scope_name(resource, verb) in response.json()["detail"]

    def test_a_token_whose_user_lacks_the_permission_is_403(
        self, client, world, method, path, resource, verb, body
    ):
        """The scope alone is not enough: its user must hold the permission when the token is used."""
        headers = password_token(client, "nobody", scope_name(resource, verb), "nobody-pw")
        response = self.run(client, world, method, path, headers, body)
        assert response.status_code == 403


class TestRecheckAtUse:
    def test_a_token_stops_working_when_its_user_loses_the_permission(self, client, world):
        headers = password_token(client, "applicationmgt-view", "internal_application_mgt_view")
        assert call(client, "GET", "foo.com", "clients", headers).status_code == 200
        user = User.objects.for_tenant(world.foo).get(username="applicationmgt-view")
        user.roles.clear()
        assert call(client, "GET", "foo.com", "clients", headers).status_code == 403

    @pytest.mark.parametrize("change", [{"is_locked": True}, {"is_active": False}])
    def test_a_token_stops_working_when_its_user_cannot_sign_in(self, client, world, change):
        headers = password_token(client, "applicationmgt-view", "internal_application_mgt_view")
        User.objects.for_tenant(world.foo).filter(username="applicationmgt-view").update(**change)
        response = call(client, "GET", "foo.com", "clients", headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="foo.com"'

    def test_an_app_token_acts_for_the_client_owner(self, client, world):
        headers = mgmt_bearer(client, "foo.com", scope="internal_application_mgt_view")
        assert call(client, "GET", "foo.com", "clients", headers).status_code == 200
        User.objects.for_tenant(world.foo).get(username="admin").roles.clear()  # the mgmt client's owner
        assert call(client, "GET", "foo.com", "clients", headers).status_code == 403

    def test_a_token_of_a_deactivated_client_is_401(self, client, world):
        headers = mgmt_bearer(client, "foo.com", scope="internal_application_mgt_view")
        Client.objects.for_tenant(world.foo).filter(client_id="mgmt").update(active=False)
        assert call(client, "GET", "foo.com", "clients", headers).status_code == 401

    def test_a_revoked_token_is_401(self, client, world):
        headers = mgmt_bearer(client, "foo.com", scope="internal_application_mgt_view")
        token = headers["Authorization"].split()[1]
        client.post(
            "/t/foo.com/oauth2/revoke", {"token": token}, secure=True, headers=basic_auth("mgmt", MGMT_SECRET)
        )
        assert call(client, "GET", "foo.com", "clients", headers).status_code == 401


class TestNoEscalation:
    def test_a_role_may_be_given_only_permissions_the_caller_holds(self, client, world):
        headers = basic_auth("rolemgt-create@foo.com", "pw")
        admin = {"name": "admins2", "permissions": ["/permission/admin"]}
        response = call(client, "POST", "foo.com", "roles", headers, admin)
        assert response.status_code == 400
        assert response.json()["invalid-params"][0]["name"] == "permissions"
        own = {"name": "creators", "permissions": [permission_path("rolemgt", "create")]}
        assert call(client, "POST", "foo.com", "roles", headers, own).status_code == 201

    def test_a_role_may_not_be_raised_above_the_caller(self, client, world):
        headers = basic_auth("rolemgt-update@foo.com", "pw")
        raise_it = {"permissions": ["/permission/admin/manage"]}
        response = call(client, "PATCH", "foo.com", f"roles/{role_id(world.foo)}", headers, raise_it)
        assert response.status_code == 400
        assert Role.objects.for_tenant(world.foo).get(name="spare").permissions == []

    def test_an_admin_role_may_not_be_deleted_by_a_lesser_caller(self, client, world):
        admins = Role.objects.for_tenant(world.foo).get(name=ADMIN_ROLE)
        response = call(
            client, "DELETE", "foo.com", f"roles/{admins.pk}", basic_auth("rolemgt-delete@foo.com", "pw")
        )
        assert response.status_code == 400
        assert Role.objects.for_tenant(world.foo).filter(pk=admins.pk).exists()

    @pytest.mark.parametrize(
        ("domain", "actor", "route", "target", "allowed"),
        [
            ("carbon.super", "deputy:deputy-pw", "password", "admin", False),  # the operator
            ("carbon.super", "deputy:deputy-pw", "lock", "admin", False),
            ("carbon.super", "deputy:deputy-pw", "roles", "admin", False),
            ("foo.com", "peer@foo.com:peer-pw", "password", "admin", False),  # another admin
            ("foo.com", "peer@foo.com:peer-pw", "lock", "admin", True),
            ("foo.com", "peer@foo.com:peer-pw", "password", "peer", True),
            ("carbon.super", "admin:admin", "password", "deputy", True),  # the operator
        ],
    )
    def test_only_an_operator_takes_another_admin(self, client, world, domain, actor, route, target, allowed):
        """As in the admin (finding 1): only an operator changes a superuser or sets another
        admin's password; holding the same permission paths let the API do both."""
        tenant = {"carbon.super": world.super, "foo.com": world.foo}[domain]
        body = {"password": "Taken-over-9", "roles": []}
        response = call(
            client, "POST", domain, f"users/{target}/{route}", basic_auth(*actor.split(":")), body
        )
        assert (response.status_code < 300) is allowed, response.content
        user = User.objects.for_tenant(tenant).get(username=target)
        changed = user.check_password("Taken-over-9") or user.is_locked or not user.roles.exists()
        assert changed is allowed

    def test_a_token_lets_a_client_hold_only_the_internal_scopes_it_carries(self, client, world):
        """A client's tokens act for its owner: a token of the admin limited to managing
        applications made (or took, by its secret) a client allowed internal_user_mgt_*, owned by
        the admin, and so reached user management."""
        scope = "internal_application_mgt_create internal_application_mgt_update"
        headers = password_token(client, "admin", scope, "admin")
        body = {"name": "x", "grant_types": ["client_credentials"], "scopes": ["internal_user_mgt_view"]}
        response = call(client, "POST", "foo.com", "clients", headers, body)
        assert response.status_code == 400, response.content
        assert response.json()["invalid-params"][0]["name"] == "scopes"
        created = call(client, "POST", "foo.com", "clients", headers, {**body, "scopes": scope.split()})
        assert created.status_code == 201, created.content
        wider = {"scopes": ["internal_user_mgt_view"]}
        assert (
            call(
                client, "PATCH", "foo.com", f"clients/{created.json()['client_id']}", headers, wider
            ).status_code
            == 400
        )
        assert call(client, "POST", "foo.com", "clients/mgmt/rotate-secret", headers).status_code == 400
        assert (
            call(client, "POST", "foo.com", "clients/mgmt/rotate-secret", admin_of("foo.com")).status_code
            == 200
        )

    def test_a_token_acts_only_with_the_permissions_its_scopes_stand_for(self, client, world):
        """A token of the admin limited to internal_user_mgt_create made a user holding the admin
        role, with a password of its choosing: through it, all of the admin's powers."""
        headers = password_token(client, "admin", "internal_user_mgt_create", "admin")
        eve = {"username": "eve", "password": "Eve-pw-123"}
        response = call(client, "POST", "foo.com", "users", headers, {**eve, "roles": [ADMIN_ROLE]})
        assert response.status_code == 400, response.content
        assert response.json()["invalid-params"][0]["name"] == "permissions"
        assert not User.objects.for_tenant(world.foo).filter(username="eve").exists()
        assert call(client, "POST", "foo.com", "users", headers, eve).status_code == 201
        # Nor its own user's password: knowing it is holding everything the user holds.
        headers = password_token(client, "admin", "internal_user_mgt_update", "admin")
        taken = call(client, "POST", "foo.com", "users/admin/password", headers, {"password": "Taken-over-9"})
        assert taken.status_code == 400, taken.content
        assert User.objects.for_tenant(world.foo).get(username="admin").check_password("admin")

    def test_an_admin_role_may_not_be_emptied_by_a_lesser_caller(self, client, world):
        """Taking a role's permissions away strips its users as deleting it would."""
        admins = Role.objects.for_tenant(world.foo).get(name=ADMIN_ROLE)
        headers = basic_auth("rolemgt-update@foo.com", "pw")
        response = call(client, "PATCH", "foo.com", f"roles/{admins.pk}", headers, {"permissions": []})
        assert response.status_code == 400, response.content
        assert Role.objects.for_tenant(world.foo).get(pk=admins.pk).permissions == admins.permissions

    def test_a_client_may_not_be_owned_by_a_user_holding_more_than_the_caller(self, client, world):
        """A client_credentials token acts for the client's owner: a client owned by the admin
        would give an application manager the admin's internal scopes."""
        headers = basic_auth("applicationmgt-create@foo.com", "pw")
        body = {"name": "x", "grant_types": ["client_credentials"], "scopes": ["internal_user_mgt_create"]}
        response = call(client, "POST", "foo.com", "clients", headers, {**body, "owner": "admin"})
        assert response.status_code == 400, response.content
        assert response.json()["invalid-params"][0]["name"] == "owner"
        created = call(client, "POST", "foo.com", "clients", headers, body)
        assert created.status_code == 201 and created.json()["owner"] == "applicationmgt-create"
        credentials = (created.json()["client_id"], created.json()["client_secret"])
        token = token_request(
            client,
            "/t/foo.com/oauth2/token",
            {"grant_type": "client_credentials", "scope": "internal_user_mgt_create"},
            credentials,
        )
        assert token.status_code == 200 and "scope" not in token.json()

    def test_the_secret_of_a_client_owned_by_a_stronger_user_may_not_be_rotated(self, client, world):
        """Rotating a secret is taking the client, and with it its owner's powers."""
        headers = basic_auth("applicationmgt-update@foo.com", "pw")
        response = call(client, "POST", "foo.com", "clients/mgmt/rotate-secret", headers)
        assert response.status_code == 400, response.content
        assert response.json()["invalid-params"][0]["name"] == "owner"
        assert mgmt_bearer(client, "foo.com")  # the secret is still MGMT_SECRET

    @pytest.mark.parametrize(
        ("method", "route", "verb", "body"),
        [
            ("PATCH", "", "update", {"redirect_uris": ["https://attacker.example/cb"]}),
            ("POST", "/deactivate", "update", None),
            ("DELETE", "", "delete", None),
        ],
    )
    def test_a_client_owned_by_a_stronger_user_may_not_be_changed(
        self, client, world, method, route, verb, body
    ):
        """Regression: as in the admin, a caller who may not rotate the admin's client's secret
        could change its redirect URIs (and send its users' codes anywhere), deactivate or delete it."""
        headers = basic_auth(f"applicationmgt-{verb}@foo.com", "pw")
        response = call(client, method, "foo.com", f"clients/mgmt{route}", headers, body)
        assert response.status_code == 400, response.content
        assert response.json()["invalid-params"][0]["name"] == "owner"
        mgmt = Client.objects.for_tenant(world.foo).get(client_id="mgmt")
        assert (mgmt.redirect_uris, mgmt.active) == ("", True)
        assert call(client, method, "foo.com", f"clients/weak{route}", headers, body).status_code < 300


# The cross-tenant table: a caller of one tenant against every route of the other.
ROUTES = [
    ("GET", "clients"),
    ("POST", "clients"),
    ("GET", "clients/mgmt"),
    ("PATCH", "clients/mgmt"),
    ("DELETE", "clients/mgmt"),
    ("POST", "clients/mgmt/rotate-secret"),
    ("POST", "clients/mgmt/deactivate"),
    ("GET", "roles"),
    ("POST", "roles"),
    ("GET", "roles/{role}"),
    ("PATCH", "roles/{role}"),
    ("DELETE", "roles/{role}"),
    ("GET", "keys"),
    ("GET", "keys/{kid}"),
    ("POST", "keys/rotate"),
    ("GET", "users"),
    ("POST", "users"),
    ("GET", "users/admin"),
    ("DELETE", "users/admin"),
    ("POST", "users/admin/lock"),
    ("POST", "users/admin/password"),
    ("POST", "users/admin/roles"),
    ("GET", "tokens"),
    ("GET", "tokens/{jti}"),
    ("POST", "tokens/{jti}/revoke"),
    ("POST", "tokens/revoke-all"),
]
DIRECTIONS = [("foo.com", "bar.com"), ("bar.com", "foo.com")]
BODIES = {
    "POST": {"name": "x", "grant_types": ["client_credentials"], "permissions": []},
    "PATCH": {"name": "x"},
}


def fingerprint(tenant) -> tuple:
    """What a write to ``tenant`` would change."""
    return (
        sorted(Client.objects.for_tenant(tenant).values_list("client_id", "name", "client_secret")),
        sorted(Role.objects.for_tenant(tenant).values_list("name", "permissions")),
        sorted(SigningKey.objects.for_tenant(tenant).values_list("kid", "active")),
        sorted(User.objects.for_tenant(tenant).values_list("username", "password", "is_locked", "is_active")),
        sorted(AccessToken.objects.for_tenant(tenant).values_list("jti", "revoked")),
    )


@pytest.mark.parametrize(("caller", "target"), DIRECTIONS)
@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_a_tenant_admin_cannot_reach_another_tenant(client, world, caller, target, method, route, scheme):
    tenants = {"foo.com": world.foo, "bar.com": world.bar}
    victim = tenants[target]
    kid = SigningKey.objects.for_tenant(victim).first().kid
    jti = AccessToken.objects.for_tenant(victim).filter(scope="test1").get().jti
    path = route.format(role=role_id(victim), kid=kid, jti=jti)
    headers = admin_of(caller) if scheme == "basic" else mgmt_bearer(client, caller)
    before = fingerprint(victim)
    # At the victim's path: refused like a wrong credential (gate 1).
    response = call(client, method, target, path, headers, BODIES.get(method))
    assert response.status_code == 401, response.content
    for secret_of_victim in (kid, "spare", str(jti)):
        assert secret_of_victim not in response.content.decode()
    # At the caller's own path, naming the victim's rows: not found there.
    if "{" in route:
        own = call(client, method, caller, path, headers, BODIES.get(method))
        assert own.status_code == 404, own.content
    assert fingerprint(victim) == before


API_ENTRY = '[[resource.access_control]]\ncontext = "(.*)/api/v1/(.*)"\n'
# an entry for the API -> (caller's tenant, scheme, status of GET /t/foo.com/api/v1/clients)
ENTRIES = [
    ('allowed_auth_handlers = "OAuthAuthentication"', "foo.com", "bearer", 200),
    ('allowed_auth_handlers = "OAuthAuthentication"', "foo.com", "basic", 401),
    ('allowed_auth_handlers = "BasicAuthentication"', "foo.com", "basic", 200),
    ('allowed_auth_handlers = "BasicAuthentication"', "foo.com", "bearer", 401),
    ('cross_tenant = true\ncross_access_allowed_tenants = "carbon.super"', "carbon.super", "basic", 200),
    ('cross_tenant = true\ncross_access_allowed_tenants = "carbon.super"', "bar.com", "basic", 401),
    ('cross_tenant = true\ncross_access_allowed_tenants = "carbon.super"', "bar.com", "bearer", 401),
    ("cross_tenant = true", "bar.com", "basic", 200),
    ("cross_tenant = true", "bar.com", "bearer", 200),
]


@pytest.mark.parametrize(("entry", "caller", "scheme", "status"), ENTRIES)
def test_the_access_control_entry_of_the_api_decides(
    client, world, deployment_override, entry, caller, scheme, status
):
    """``[[resource.access_control]]`` applies to the API as to introspection: its handlers are the
    only ones accepted, and ``cross_tenant`` lets the callers it names work on the path's tenant."""
    deployment_override(resource=configured(API_ENTRY + entry).resource)
    headers = admin_of(caller) if scheme == "basic" else mgmt_bearer(client, caller)
    response = call(client, "GET", "foo.com", "clients", headers)
    assert response.status_code == status, response.content
    if status == 200:
        assert "weak" in {row["client_id"] for row in response.json()["results"]}  # foo.com's rows
