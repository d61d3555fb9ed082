"""Locking, deactivating or deleting a user, a client or a tenant makes its tokens inactive at
once, for good (issue 11 finding 2): introspection answers ``{"active": false}``, the refresh
grant answers ``invalid_grant``, a Bearer caller is refused. Unlocking revives nothing."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from identity import permissions
from identity.models import Client, Grant, User
from identity.provisioning import create_user
from identity.services.clients import activate_client, deactivate_client, delete_client
from identity.services.tenants import activate_tenant, deactivate_tenant
from identity.services.users import activate_user, deactivate_user, delete_user, lock_user, unlock_user
from tests.support.auth import basic_auth
from tests.support.oauth import (
    ALICE,
    DEMO,
    REDIRECT_URI,
    error_of,
    issue,
    password_grant,
    pkce_pair,
    refresh_grant,
    sign_in,
    stored,
    stored_refresh,
)
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

ACTOR = "admin@foo.com"
INTROSPECT = "/t/foo.com/oauth2/introspect"
VIEWER = ("viewer@foo.com", "viewer-pw")


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = oauth_world()
        create_user(world.foo, "viewer", "viewer-pw", [permissions.INTROSPECT_VIEW])
        return world

    return build_once(make)


def introspect(client, token: str, authorization: dict | None = None):
    headers = authorization or basic_auth(*VIEWER)
    return client.post(INTROSPECT, {"token": token}, secure=True, headers=headers)


def is_active(client, token: str) -> bool:
    response = introspect(client, token)
    assert response.status_code == 200, response.content
    return json.loads(response.content)["active"]


def alice(world) -> User:
    return User.objects.for_tenant(world.foo).get(username="alice")


def demo_client(world) -> Client:
    return Client.objects.for_tenant(world.foo).get(client_id=DEMO[0])


USER_CHANGES = {
    "locked": lambda user: lock_user(user, actor=ACTOR),
    "deactivated": lambda user: deactivate_user(user, actor=ACTOR),
    "deleted": lambda user: delete_user(user, actor=ACTOR),
    "locked then unlocked": lambda user: (lock_user(user, actor=ACTOR), unlock_user(user, actor=ACTOR)),
    "deactivated then activated": lambda user: (
        deactivate_user(user, actor=ACTOR),
        activate_user(user, actor=ACTOR),
    ),
}


class TestUser:
    @pytest.mark.parametrize("change", USER_CHANGES)
    def test_tokens_are_inactive_and_refresh_is_refused(self, client, world, change):
        body = password_grant(client)
        assert is_active(client, body["access_token"])
        USER_CHANGES[change](alice(world))
        assert not is_active(client, body["access_token"])
        assert error_of(refresh_grant(client, body["refresh_token"])) == "invalid_grant"

    def test_other_users_tokens_stay_active(self, client, world):
        other = password_grant(client, user=("viewer", "viewer-pw"))
        lock_user(alice(world), actor=ACTOR)
        assert is_active(client, other["access_token"])

    def test_app_tokens_of_clients_the_user_owns_stay_active(self, client, world):
        """A client_credentials token acts for its client; locking the owner does not revoke it."""
        token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        owner = stored(token).user
        assert owner is not None
        lock_user(owner, actor=ACTOR)
        assert stored(token).revoked is None

    @pytest.mark.parametrize("flag", ["is_locked", "is_active"])
    def test_a_plain_save_revokes_too(self, client, world, flag):
        """The admin's change form saves the row: the tokens go all the same (identity.signals)."""
        body = password_grant(client)
        user = alice(world)
        setattr(user, flag, not getattr(user, flag))
        user.save()
        assert not is_active(client, body["access_token"])

    @pytest.mark.parametrize("user", [("locked", "locked-pw"), ("inactive", "inactive-pw")])
    def test_password_grant_refuses_disabled_users(self, client, world, user):
        data = {"grant_type": "password", "username": user[0], "password": user[1]}
        response = client.post("/t/foo.com/oauth2/token", data, secure=True, headers=basic_auth(*DEMO))
        assert error_of(response) == "invalid_grant"

    def test_bearer_caller_is_refused_once_its_user_is_locked(self, client, world):
        admin_token = password_grant(client, user=("admin", "admin"), scope="internal_oauth2_introspect")
        assert admin_token["scope"] == "internal_oauth2_introspect"
        bearer = {"Authorization": "Bearer " + admin_token["access_token"]}
        target = password_grant(client)["access_token"]
        assert introspect(client, target, bearer).status_code == 200
        lock_user(User.objects.for_tenant(world.foo).get(username="admin"), actor="command")
        assert introspect(client, target, bearer).status_code == 401

    def test_refresh_is_refused_for_a_user_locked_without_revocation(self, client, world):
        """Even a refresh token left unrevoked (a bulk update bypassing services and signals)
        is refused while its user cannot sign in."""
        body = password_grant(client)
        User.objects.for_tenant(world.foo).filter(username="alice").update(is_locked=True)
        assert stored_refresh(body["refresh_token"]).revoked is None
        assert error_of(refresh_grant(client, body["refresh_token"])) == "invalid_grant"


# change -> (the change, what the refresh grant answers after it)
CLIENT_CHANGES = {
    "deactivated": (lambda c: deactivate_client(c, actor=ACTOR), (401, "invalid_client")),
    "deleted": (lambda c: delete_client(c, actor=ACTOR), (401, "invalid_client")),
    "deactivated then activated": (
        lambda c: (deactivate_client(c, actor=ACTOR), activate_client(c, actor=ACTOR)),
        (400, "invalid_grant"),
    ),
}


class TestClient:
    @pytest.mark.parametrize("change", CLIENT_CHANGES)
    def test_tokens_are_inactive_and_refresh_is_refused(self, client, world, change):
        body = password_grant(client)
        app_token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        apply, (status, error) = CLIENT_CHANGES[change]
        apply(demo_client(world))
        assert not is_active(client, body["access_token"])
        assert not is_active(client, app_token)
        assert error_of(refresh_grant(client, body["refresh_token"]), status) == error

    def test_app_tokens_issued_for_a_former_owner_are_revoked(self, client, world):
        """A client_credentials token acts for the owner it was issued for (its user): when the
        client changes hands (the admin's change form saves the row), those tokens go."""
        app_token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        user_token = password_grant(client)["access_token"]
        demo = demo_client(world)
        assert demo.user != alice(world)
        demo.user = alice(world)
        demo.save()
        assert not is_active(client, app_token)
        assert is_active(client, user_token)
        fresh = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        assert stored(fresh).user == alice(world)
        demo.name = "renamed"
        demo.save()
        assert is_active(client, fresh)

    @pytest.mark.parametrize("endpoint", ["/t/foo.com/oauth2/token", "/t/foo.com/oauth2/revoke"])
    def test_an_inactive_client_cannot_authenticate(self, client, world, endpoint):
        deactivate_client(demo_client(world), actor=ACTOR)
        data = {"grant_type": "client_credentials", "token": "x"}
        response = client.post(endpoint, data, secure=True, headers=basic_auth(*DEMO))
        assert error_of(response, 401) == "invalid_client"

    def test_a_public_inactive_client_cannot_get_a_code_exchanged(self, client, world):
        spa = Client.objects.for_tenant(world.foo).get(client_id=world.spa)
        deactivate_client(spa, actor=ACTOR)
        data = {"grant_type": "authorization_code", "client_id": world.spa, "code": "x", "redirect_uri": "x"}
        response = client.post("/t/foo.com/oauth2/token", data, secure=True)
        assert error_of(response, 401) == "invalid_client"

    @pytest.mark.parametrize("method", ["get", "post"])
    def test_an_inactive_client_gets_no_consent_page_and_no_code(self, client, world, method):
        """Regression: the authorization endpoint showed a deactivated client's consent page and
        sent its redirect URI a code, as for an active one."""
        sign_in(client, "/t/foo.com", *ALICE)
        deactivate_client(Client.objects.for_tenant(world.foo).get(client_id="webapp"), actor=ACTOR)
        fields = {
            "response_type": "code",
            "client_id": "webapp",
            "redirect_uri": REDIRECT_URI,
            "code_challenge": pkce_pair()[1],
            "code_challenge_method": "S256",
            "scope": "test1",
        }
        url = f"/t/foo.com/oauth2/authorize?{urlencode(fields)}"
        form = {**fields, "allow": "Authorize"} if method == "post" else {}
        response = getattr(client, method)(url, form, secure=True)
        assert response.status_code == 400
        assert not response.has_header("Location")
        assert not Grant.objects.for_tenant(world.foo).exists()


class TestTenant:
    def test_deactivated_tenant_tokens_stay_revoked_when_it_comes_back(self, client, world):
        body = password_grant(client)
        app_token = issue(client, "foo.com", {"grant_type": "client_credentials"})["access_token"]
        deactivate_tenant(world.foo, actor="command")
        assert client.post(INTROSPECT, {"token": body["access_token"]}, secure=True).status_code == 404
        activate_tenant(world.foo, actor="command")
        for token in (body["access_token"], app_token):
            assert not is_active(client, token)
        assert error_of(refresh_grant(client, body["refresh_token"])) == "invalid_grant"

    def test_other_tenants_keep_their_tokens(self, client, world):
        token = issue(client, "carbon.super", {"grant_type": "client_credentials"})["access_token"]
        deactivate_tenant(world.foo, actor="command")
        assert stored(token).revoked is None
