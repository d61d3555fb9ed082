"""What the token endpoint grants, whatever the grant: internal scopes only to holders of their
permission (issue 11 finding 5), a replayed authorization code revokes what it gave (finding
13, RFC 6749 §4.1.2), refresh-token families end (RFC 9700 §4.14.2), and a credential of another
tenant fails exactly like a wrong one (finding 11)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from identity import permissions
from identity.bootstrap import DEMO_CLIENT
from identity.models import Client, Grant, RefreshToken, User
from identity.oauth.scopes import INTERNAL_SCOPES, holds_scope, internal_scope_permissions
from identity.provisioning import create_user
from identity.services.clients import ClientSpec, create_client, deactivate_client
from identity.services.tokens import clear_expired
from identity.services.users import set_roles
from tests.support.auth import basic_auth
from tests.support.oauth import (
    REDIRECT_URI,
    TOKEN_PATHS,
    authorize,
    error_of,
    exchange_code,
    pkce_pair,
    sign_in,
    stored,
    stored_refresh,
    token_request,
)
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

MGT = "/permission/admin/manage/identity"
INTERNAL = [
    "internal_oauth2_introspect",
    "internal_user_mgt_view",
    "internal_application_mgt_create",
    "internal_x",
]
ALL = ["test1", *INTERNAL]
INTERNAL_CLIENT = ("internal", "internal-secret")


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = oauth_world()
        create_user(world.foo, "viewer", "viewer-pw", [permissions.INTROSPECT_VIEW])
        create_user(world.foo, "appmgr", "appmgr-pw", [f"{MGT}/applicationmgt"])
        create_user(world.foo, "usermgr", "usermgr-pw", [f"{MGT}/usermgt/view"])
        for owner in ("alice", "admin"):
            create_client(
                world.foo,
                ClientSpec(
                    name=f"{owner}'s",
                    client_id=f"{INTERNAL_CLIENT[0]}-{owner}",
                    client_secret=INTERNAL_CLIENT[1],
                    owner=owner,
                    grant_types=["client_credentials", "password", "refresh_token", "authorization_code"],
                    redirect_uris=[REDIRECT_URI],
                    scopes=ALL,
                ),
            )
        return world

    return build_once(make)


def internal_client(owner: str = "admin") -> tuple[str, str]:
    return f"{INTERNAL_CLIENT[0]}-{owner}", INTERNAL_CLIENT[1]


def granted(response) -> list[str]:
    assert response.status_code == 200, response.content
    return json.loads(response.content).get("scope", "").split()


def password(client, user: str, scope: str, credentials=None):
    data = {"grant_type": "password", "username": user, "password": f"{user}-pw", "scope": scope}
    if user == "admin":
        data["password"] = "admin"
    return token_request(client, TOKEN_PATHS["foo.com"], data, credentials or internal_client())


class TestScopeMapping:
    def test_management_scopes(self):
        assert INTERNAL_SCOPES["internal_role_mgt_delete"] == (f"{MGT}/rolemgt/delete",)
        assert len(INTERNAL_SCOPES) == 12

    def test_introspect_scope_follows_the_deployment(self):
        assert internal_scope_permissions("internal_oauth2_introspect", settings.DEPLOYMENT) == (
            permissions.INTROSPECT_VIEW,
        )
        assert internal_scope_permissions("internal_unknown", settings.DEPLOYMENT) == ()

    def test_non_internal_scope_is_anyones(self):
        assert holds_scope(None, "test1", settings.DEPLOYMENT)
        assert not holds_scope(None, "internal_user_mgt_view", settings.DEPLOYMENT)


class TestInternalScopes:
    """Requested internal scopes not held are left out; the token is issued with the rest."""

    @pytest.mark.parametrize(
        ("user", "expected"),
        [
            ("alice", ["test1"]),
            ("viewer", ["test1", "internal_oauth2_introspect"]),
            ("appmgr", ["test1", "internal_oauth2_introspect", "internal_application_mgt_create"]),
            ("usermgr", ["test1", "internal_user_mgt_view"]),
            ("admin", ["test1", *INTERNAL[:3]]),
        ],
    )
    def test_password_grant(self, client, world, user, expected):
        assert granted(password(client, user, " ".join(ALL))) == expected

    def test_only_internal_scopes_not_held_gives_a_token_without_scope(self, client, world):
        response = password(client, "alice", "internal_oauth2_introspect")
        assert granted(response) == []
        assert stored(json.loads(response.content)["access_token"]).scope == ""

    @pytest.mark.parametrize(
        ("owner", "expected"), [("alice", ["test1"]), ("admin", ["test1", *INTERNAL[:3]])]
    )
    def test_client_credentials_follow_the_clients_owner(self, client, world, owner, expected):
        data = {"grant_type": "client_credentials", "scope": " ".join(ALL)}
        assert (
            granted(token_request(client, TOKEN_PATHS["foo.com"], data, internal_client(owner))) == expected
        )

    def test_the_demo_client_no_longer_gives_anyone_the_introspect_scope(self, client, world):
        """The finding as reported: alice got internal_oauth2_introspect with the demo client."""
        data = {"grant_type": "password", "username": "alice", "password": "alice-pw"}
        data["scope"] = "test1 internal_oauth2_introspect"
        demo = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)
        assert granted(token_request(client, TOKEN_PATHS["foo.com"], data, demo)) == ["test1"]

    def test_refresh_rechecks_at_issuance(self, client, world):
        body = json.loads(password(client, "viewer", "test1 internal_oauth2_introspect").content)
        set_roles(User.objects.for_tenant(world.foo).get(username="viewer"), [], actor="test")
        data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        assert granted(token_request(client, TOKEN_PATHS["foo.com"], data, internal_client())) == ["test1"]

    def test_authorization_code_grant(self, client, world):
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        verifier, challenge = pkce_pair()
        code = authorize(client, internal_client()[0], challenge, scope="test1 internal_user_mgt_view")
        assert granted(exchange_code(client, code, verifier, internal_client())) == ["test1"]


class TestCodeReplay:
    """RFC 6749 §4.1.2: a code used twice is refused, and the tokens it gave are revoked."""

    def first_exchange(self, client, world):
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        verifier, challenge = pkce_pair()
        code = authorize(client, "webapp", challenge, scope="test1")
        body = json.loads(exchange_code(client, code, verifier, world.web).content)
        return code, verifier, body

    def test_replay_revokes_the_tokens(self, client, world):
        code, verifier, body = self.first_exchange(client, world)
        assert error_of(exchange_code(client, code, verifier, world.web)) == "invalid_grant"
        assert stored(body["access_token"]).revoked is not None
        assert stored_refresh(body["refresh_token"]).revoked is not None

    def test_replay_revokes_the_refreshed_tokens_too(self, client, world):
        code, verifier, body = self.first_exchange(client, world)
        data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        refreshed = json.loads(token_request(client, TOKEN_PATHS["foo.com"], data, world.web).content)
        assert stored(refreshed["access_token"]).revoked is None
        assert error_of(exchange_code(client, code, verifier, world.web)) == "invalid_grant"
        assert stored(refreshed["access_token"]).revoked is not None
        assert stored_refresh(refreshed["refresh_token"]).revoked is not None

    def test_cleartokens_keeps_a_redeemed_code_while_its_tokens_live(self, client, world):
        code, verifier, body = self.first_exchange(client, world)
        Grant.objects.for_tenant(world.foo).update(expires=timezone.now() - timedelta(seconds=1))
        assert clear_expired()["authorization codes"] == 0
        assert error_of(exchange_code(client, code, verifier, world.web)) == "invalid_grant"
        assert stored(body["access_token"]).revoked is not None

    def test_a_failed_exchange_does_not_spend_the_code(self, client, world):
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        verifier, challenge = pkce_pair()
        code = authorize(client, "webapp", challenge, scope="test1")
        assert (
            error_of(exchange_code(client, code, "wrong-verifier-" + "x" * 40, world.web)) == "invalid_grant"
        )
        assert exchange_code(client, code, verifier, world.web).status_code == 200


@pytest.fixture
def max_lifetime(deployment_override):
    def apply(seconds: int):
        oauth = dataclasses.replace(settings.DEPLOYMENT.oauth, refresh_token_max_lifetime=seconds)
        deployment_override(oauth=oauth)

    return apply


class TestRefreshFamilyLifetime:
    """RFC 9700 §4.14.2: rotation slides a refresh token's expiry, never past its family's end."""

    def test_first_refresh_token_ends_with_its_family(self, client, world, max_lifetime):
        max_lifetime(100)
        body = json.loads(password(client, "alice", "test1").content)
        row = stored_refresh(body["refresh_token"])
        assert row.family_expires == row.expires
        assert row.expires == pytest.approx(row.created + timedelta(seconds=100), abs=timedelta(seconds=2))

    def test_rotation_does_not_pass_the_family_end(self, client, world):
        body = json.loads(password(client, "alice", "test1").content)
        family_end = timezone.now() + timedelta(seconds=30)
        RefreshToken.objects.for_tenant(world.foo).filter(pk=stored_refresh(body["refresh_token"]).pk).update(
            family_expires=family_end
        )
        data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
        refreshed = json.loads(token_request(client, TOKEN_PATHS["foo.com"], data, internal_client()).content)
        row = stored_refresh(refreshed["refresh_token"])
        assert (row.family_expires, row.expires) == (family_end, family_end)


class TestCrossTenantCredentials:
    """A valid credential of another tenant, a wrong secret, an unknown id and an inactive
    client all get the same answer: status, body and headers."""

    @pytest.mark.parametrize("path", ["/t/foo.com/oauth2/token", "/t/foo.com/oauth2/revoke"])
    @pytest.mark.parametrize("method", ["basic", "post"])
    def test_identical_failures(self, client, world, path, method):
        deactivate_client(Client.objects.for_tenant(world.foo).get(client_id="short"), actor="test")
        credentials = {
            "other tenant's": world.barclient,
            "wrong secret": (world.api[0], "wrong"),
            "unknown": ("nobody", "x"),
            "inactive (right secret)": world.short,
        }
        answers = {}
        for name, (client_id, secret) in credentials.items():
            data = {"grant_type": "client_credentials", "token": "abc"}
            if method == "basic":
                response = client.post(path, data, secure=True, headers=basic_auth(client_id, secret))
            else:
                response = client.post(
                    path, {**data, "client_id": client_id, "client_secret": secret}, secure=True
                )
            # Every header but the request id, which differs for every request.
            headers = sorted((key, value) for key, value in response.items() if key != "X-Request-ID")
            answers[name] = (response.status_code, response.content, headers)
        assert len(set(map(repr, answers.values()))) == 1, answers
        assert answers["unknown"][0] == 401
