"""The management API's ``users``, ``tokens``, ``keys`` and ``tenants`` resources (docs/api.md)."""

from __future__ import annotations

import dataclasses

import pytest
from django.conf import settings
from django.utils import timezone

from identity.models import AccessToken, SigningKey, User
from identity.models.tokens import token_checksum
from identity.provisioning import create_user
from identity.services.roles import create_role
from tenants.models import Tenant
from tests.support.api import admin_of, call, mgmt_bearer
from tests.support.auth import basic_auth
from tests.support.oauth import issue, password_grant
from tests.support.worlds import api_world

USERMGT = "/permission/admin/manage/identity/usermgt"


def make_world():
    world = api_world()
    create_user(world.foo, "alice", "alice-pw")
    create_user(world.foo, "helpdesk", "pw", [USERMGT])
    create_role(world.foo, "readers", ["/permission/admin/login"], actor="test")
    return world


pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(make_world)


def introspect(http, token: str) -> bool:
    response = http.post(
        "/t/foo.com/oauth2/introspect", {"token": token}, secure=True, headers=admin_of("foo.com")
    )
    return response.json()["active"]


class TestUsers:
    def test_create_with_roles_then_sign_in(self, client, world):
        body = {"username": "bob", "password": "bob-pw", "roles": ["readers"], "email": "bob@example.org"}
        created = call(client, "POST", "foo.com", "users", admin_of("foo.com"), body)
        assert created.status_code == 201, created.content
        assert created.json()["roles"] == ["readers"] and "password" not in created.json()
        assert (
            call(client, "GET", "foo.com", "users/bob", basic_auth("bob@foo.com", "bob-pw")).status_code
            == 403
        )

    def test_list_filters_by_role_and_state(self, client, world):
        listed = call(client, "GET", "foo.com", "users?role=readers", admin_of("foo.com")).json()
        assert listed["count"] == 0
        locked = call(client, "GET", "foo.com", "users?is_locked=true", admin_of("foo.com")).json()
        assert locked["count"] == 0

    def test_lock_revokes_the_users_tokens_and_unlock_does_not_revive_them(self, client, world):
        token = password_grant(client, user=("alice", "alice-pw"))["access_token"]
        assert introspect(client, token)
        locked = call(client, "POST", "foo.com", "users/alice/lock", admin_of("foo.com"))
        assert locked.status_code == 200 and locked.json()["is_locked"] is True
        assert not introspect(client, token)
        call(client, "POST", "foo.com", "users/alice/unlock", admin_of("foo.com"))
        assert not introspect(client, token)
        assert User.objects.for_tenant(world.foo).get(username="alice").is_locked is False

    def test_set_password(self, client, world):
        response = call(
            client, "POST", "foo.com", "users/alice/password", admin_of("foo.com"), {"password": "new-pw"}
        )
        assert response.status_code == 204
        assert User.objects.for_tenant(world.foo).get(username="alice").check_password("new-pw")

    def test_set_roles(self, client, world):
        response = call(
            client, "POST", "foo.com", "users/alice/roles", admin_of("foo.com"), {"roles": ["readers"]}
        )
        assert response.status_code == 200 and response.json()["roles"] == ["readers"]

    def test_deactivate_then_delete(self, client, world):
        deactivated = call(client, "POST", "foo.com", "users/alice/deactivate", admin_of("foo.com"))
        assert deactivated.json()["is_active"] is False
        assert call(client, "DELETE", "foo.com", "users/alice", admin_of("foo.com")).status_code == 204
        assert not User.objects.for_tenant(world.foo).filter(username="alice").exists()

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", "users/admin/password", {"password": "taken-over"}),
            ("POST", "users/admin/lock", None),
            ("POST", "users/admin/roles", {"roles": []}),
            ("DELETE", "users/admin", None),
            ("POST", "users/helpdesk/roles", {"roles": ["admin"]}),
            ("POST", "users", {"username": "evil", "password": "x", "roles": ["admin"]}),
        ],
    )
    def test_a_caller_cannot_act_above_itself(self, client, world, method, path, body):
        """No escalation: a user manager cannot take over, demote or create an administrator."""
        response = call(client, method, "foo.com", path, basic_auth("helpdesk@foo.com", "pw"), body)
        assert response.status_code == 400, response.content
        admin = User.objects.for_tenant(world.foo).get(username="admin")
        assert admin.check_password("admin") and admin.can_authenticate and admin.is_tenant_admin
        assert not User.objects.for_tenant(world.foo).filter(username="evil").exists()

    def test_a_duplicate_username_is_a_problem(self, client, world):
        response = call(
            client, "POST", "foo.com", "users", admin_of("foo.com"), {"username": "alice", "password": "x"}
        )
        assert response.status_code == 400 and response.json()["invalid-params"][0]["name"] == "username"


class TestTokens:
    def test_list_shows_no_token_value_and_filters(self, client, world):
        token = password_grant(client, user=("alice", "alice-pw"))["access_token"]
        listed = call(client, "GET", "foo.com", "tokens?user=alice&state=active", admin_of("foo.com"))
        assert listed.status_code == 200
        [row] = listed.json()["results"]
        assert (
            row["user"] == "alice"
            and row["state"] == "active"
            and row["client_id"] == "rgfKVdnMQnJSSr_pKFTxj3apiwYa"
        )
        assert token not in listed.content.decode()
        assert (
            call(client, "GET", "foo.com", "tokens?user=alice&state=revoked", admin_of("foo.com")).json()[
                "count"
            ]
            == 0
        )

    # query -> which of the tenant's access tokens it lists
    FILTERS = {
        "client_id=mgmt": lambda t, now: t.application.client_id == "mgmt",
        "user=alice": lambda t, now: t.user is not None and t.user.username == "alice",
        "state=active": lambda t, now: t.revoked is None and t.expires > now,
        "state=revoked": lambda t, now: t.revoked is not None,
        "state=expired": lambda t, now: t.revoked is None and t.expires <= now,
        "grant_type=password": lambda t, now: t.grant_type == "password",
        "client_id=mgmt&state=expired": lambda t, now: (
            t.application.client_id == "mgmt" and t.revoked is None and t.expires <= now
        ),
    }

    @pytest.mark.parametrize("query", list(FILTERS))
    def test_filters(self, client, world, query):
        password_grant(client, user=("alice", "alice-pw"))  # an active token of alice
        revoked = password_grant(client, user=("alice", "alice-pw"))["access_token"]
        AccessToken.objects.for_tenant(world.foo).filter(token_checksum=token_checksum(revoked)).update(
            revoked=timezone.now()
        )
        expired = token_checksum(mgmt_bearer(client, "foo.com")["Authorization"].removeprefix("Bearer "))
        AccessToken.objects.for_tenant(world.foo).filter(token_checksum=expired).update(
            expires=timezone.now()
        )
        now = timezone.now()
        expected = {
            str(token.jti)
            for token in AccessToken.objects.for_tenant(world.foo).select_related("application", "user")
            if self.FILTERS[query](token, now)
        }
        listed = call(client, "GET", "foo.com", f"tokens?{query}&limit=500", admin_of("foo.com"))
        assert listed.status_code == 200, listed.content
        assert expected and {row["jti"] for row in listed.json()["results"]} == expected

    def test_revoke_one(self, client, world):
        token = password_grant(client, user=("alice", "alice-pw"))["access_token"]
        jti = AccessToken.objects.for_tenant(world.foo).get(user__username="alice").jti
        revoked = call(client, "POST", "foo.com", f"tokens/{jti}/revoke", admin_of("foo.com"))
        assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
        assert not introspect(client, token)

    @pytest.mark.parametrize("whose", [{"user": "alice"}, {"client_id": "rgfKVdnMQnJSSr_pKFTxj3apiwYa"}])
    def test_revoke_all_of_a_user_or_client(self, client, world, whose):
        tokens = [password_grant(client, user=("alice", "alice-pw"))["access_token"] for _ in range(2)]
        response = call(client, "POST", "foo.com", "tokens/revoke-all", admin_of("foo.com"), whose)
        assert response.status_code == 200 and response.json()["revoked"] >= 2
        assert not any(introspect(client, token) for token in tokens)

    @pytest.mark.parametrize("body", [{}, {"user": "alice", "client_id": "x"}, {"user": "nobody-here"}])
    def test_revoke_all_needs_exactly_one_known_owner(self, client, world, body):
        assert (
            call(client, "POST", "foo.com", "tokens/revoke-all", admin_of("foo.com"), body).status_code == 400
        )


class TestKeys:
    def test_list_shows_public_parts_only(self, client, world):
        [key] = call(client, "GET", "foo.com", "keys", admin_of("foo.com")).json()["results"]
        assert key["jwk"]["kty"] == "RSA" and "d" not in key["jwk"] and "private_key" not in key

    def test_rotate_publishes_both_keys(self, client, world):
        old = SigningKey.objects.for_tenant(world.foo).get().kid
        rotated = call(client, "POST", "foo.com", "keys/rotate", admin_of("foo.com"), {"algorithm": "ES256"})
        assert rotated.status_code == 201 and rotated.json()["algorithm"] == "ES256"
        kids = {key["kid"] for key in client.get("/t/foo.com/oauth2/jwks", secure=True).json()["keys"]}
        assert kids == {old, rotated.json()["kid"]}

    def test_rotate_past_the_limit_is_a_conflict_naming_it(self, client, world, deployment_override):
        """Regression: a tenant admin could rotate without limit, growing the public JWKS."""
        oauth = settings.DEPLOYMENT.oauth
        deployment_override(oauth=dataclasses.replace(oauth, max_published_signing_keys=2))
        assert call(client, "POST", "foo.com", "keys/rotate", admin_of("foo.com"), {}).status_code == 201
        refused = call(client, "POST", "foo.com", "keys/rotate", admin_of("foo.com"), {})
        assert refused.status_code == 409
        assert refused["Content-Type"] == "application/problem+json"
        assert "max_published_signing_keys" in refused.json()["detail"]
        assert "at most 2" in refused.json()["detail"]
        assert SigningKey.objects.for_tenant(world.foo).count() == 2


class TestTenants:
    def test_a_superuser_creates_a_tenant_whose_admin_can_use_its_api(self, client, world):
        body = {"domain": "baz.org", "admin_username": "boss", "admin_password": "boss-pw"}
        created = call(client, "POST", "carbon.super", "tenants", admin_of("carbon.super"), body)
        assert created.status_code == 201, created.content
        assert created.json() == {"domain": "baz.org", "name": "baz.org", "active": True}
        assert (
            call(client, "GET", "baz.org", "keys", basic_auth("boss@baz.org", "boss-pw")).status_code == 200
        )

    def test_a_domain_that_takes_over_usernames_is_refused_naming_them(
        self, client, world, deployment_override
    ):
        tenant = dataclasses.replace(settings.DEPLOYMENT.tenant, email_usernames=True)
        deployment_override(tenant=tenant)
        create_user(world.foo, "dan@baz.org", "dan-pw")
        body = {"domain": "baz.org", "admin_username": "boss", "admin_password": "boss-pw"}
        refused = call(client, "POST", "carbon.super", "tenants", admin_of("carbon.super"), body)
        assert refused.status_code == 400
        ((name, reason),) = [(param["name"], param["reason"]) for param in refused.json()["invalid-params"]]
        assert name == "domain" and "dan@baz.org (foo.com)" in reason

    def test_deactivate_makes_the_tenant_404(self, client, world):
        response = call(
            client, "POST", "carbon.super", "tenants/bar.com/deactivate", admin_of("carbon.super")
        )
        assert response.status_code == 200 and response.json()["active"] is False
        assert call(client, "GET", "bar.com", "keys", admin_of("bar.com")).status_code == 404

    # request -> status and the field the problem names; nothing is created or changed
    REFUSED = [
        ("tenants/carbon.super/deactivate", None, 400, "domain"),
        ("tenants/nosuch.org/deactivate", None, 404, None),
        ("tenants", {"domain": "foo.com", "admin_username": "a", "admin_password": "p"}, 400, "domain"),
        ("tenants", {"domain": "Baz.Org", "admin_username": "a", "admin_password": "p"}, 400, "domain"),
        ("tenants", {"domain": "baz.org", "admin_username": "a@baz.org", "admin_password": "p"}, 400, None),
        ("tenants", {"domain": "baz.org", "admin_username": "a"}, 400, "admin_password"),
        # Regression: foo.com's bob@example.org (an e-mail username) would pass for example.org's bob.
        ("tenants", {"domain": "example.org", "admin_username": "a", "admin_password": "p"}, 400, "domain"),
    ]

    @pytest.mark.parametrize(("path", "body", "status", "field"), REFUSED)
    def test_refused_as_a_problem_and_nothing_changes(self, client, world, path, body, status, field):
        alice = User.objects.for_tenant(world.foo).get(username="alice")
        User.objects.for_tenant(world.foo).filter(pk=alice.pk).update(username="bob@example.org")
        before = sorted(Tenant.objects.values_list("domain", "active"))
        response = call(client, "POST", "carbon.super", path, admin_of("carbon.super"), body)
        assert response.status_code == status, response.content
        assert response["Content-Type"] == "application/problem+json"
        if field:
            assert field in {param["name"] for param in response.json()["invalid-params"]}
        assert sorted(Tenant.objects.values_list("domain", "active")) == before
        assert not User.objects.all_tenants().filter(tenant__domain="baz.org").exists()

    @pytest.mark.parametrize(
        ("domain", "caller", "status"),
        [
            ("carbon.super", "tenant admin", 401),
            ("foo.com", "tenant admin", 403),
            ("foo.com", "superuser", 401),
            ("carbon.super", "superuser bearer", 403),
        ],
    )
    def test_only_a_superuser_at_the_super_tenant(self, client, world, domain, caller, status):
        if caller == "superuser bearer":
            headers = password_bearer(client)
        else:
            headers = admin_of("foo.com" if caller == "tenant admin" else "carbon.super")
        assert call(client, "GET", domain, "tenants", headers).status_code == status


def password_bearer(http) -> dict[str, str]:
    """A token of the super tenant's admin (the demo client's password grant)."""
    body = issue(http, "carbon.super", {"grant_type": "password", "username": "admin", "password": "admin"})
    return {"Authorization": "Bearer " + body["access_token"]}
