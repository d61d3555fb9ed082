"""Who may call the introspection endpoint: the caller-authentication handlers
(docs/introspection.md#callers).

BasicAuthentication (a user holding a permission), BasicClientAuthentication (a client of the
caller's app tenant), OAuthAuthentication (a Bearer token with a scope); which of them an
endpoint accepts comes from the first matching ``[[resource.access_control]]`` entry
(docs/deployment-toml.md).
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deployment import Deployment
from identity import permissions
from identity.models import AccessToken, Client, Role
from identity.models.tokens import token_checksum
from identity.provisioning import create_user
from tenants.models import Tenant
from tests.support.auth import basic, bearer
from tests.support.introspection import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENDPOINT,
    FOO,
    LOGIN,
    SUPER,
    configured,
    make_refresh_token,
    make_token,
)
from tests.support.worlds import fresh, introspection_world

pytestmark = pytest.mark.django_db

ADMIN = basic("admin", "admin")
CLIENT = basic(CLIENT_ID, CLIENT_SECRET)

# The WSO2 document's entry that turns on client callers.
CLIENT_CALLERS = """
[[resource.access_control]]
context="(.*)/oauth2/introspect(.*)"
http_method = "all"
secure = true
allowed_auth_handlers="BasicClientAuthentication"
"""
# docs/introspection.md#callers: unlike WSO2, both Basic handlers may be on together.
EVERY_HANDLER = """
[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
allowed_auth_handlers = ["BasicAuthentication", "BasicClientAuthentication", "OAuthAuthentication"]
"""
# Callers of any tenant, users and bearers, at any tenant's endpoint (gate 1 open).
CROSS_TENANT_USERS_AND_BEARERS = """
[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
allowed_auth_handlers = ["BasicAuthentication", "OAuthAuthentication"]
cross_tenant = true
"""
# The WSO2 document's snippet letting users with other permissions introspect.
LOGIN_MAY_INTROSPECT = """
[resource_access_control.introspect]
permissions = ["/permission/admin/manage/identity/applicationmgt/view","/permission/admin/login"]
"""


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        client, tenant = world.clients[SUPER], world.tenants[SUPER]
        world.users[SUPER].update(
            manager=create_user(tenant, "manager", "manager-pw", ["/permission/admin/manage"]),
            deeper=create_user(tenant, "deeper", "deeper-pw", [permissions.INTROSPECT_VIEW + "/more"]),
            sibling=create_user(
                tenant, "sibling", "sibling-pw", ["/permission/admin/manage/identity/usermgt"]
            ),
        )
        world.token = make_token(client, scope="test1")
        world.bearer = SimpleNamespace(
            introspect=make_token(client, scope="test1 internal_oauth2_introspect"),
            plain=make_token(client, scope="test1 test2"),
            expired=make_token(client, scope="internal_oauth2_introspect", expires_in=-1),
            revoked=make_token(client, scope="internal_oauth2_introspect", revoked=True),
            refresh=make_refresh_token(
                client, world.users[SUPER]["admin"], scope="internal_oauth2_introspect"
            ),
            foo=make_token(world.clients[FOO], scope="internal_oauth2_introspect"),
        )
        return world

    return build_once(make)


@pytest.fixture
def configure(deployment_override):
    """Return ``apply(toml)``: run the test with the access control that ``toml`` configures."""

    def apply(toml: str) -> Deployment:
        given = configured(toml)
        return deployment_override(
            resource=given.resource, resource_access_control=given.resource_access_control
        )

    return apply


@pytest.fixture
def hashes():
    """Count the password hashes (user passwords) and client-secret hashes the test computes."""
    password_hasher = type(get_hasher("default"))
    secret_hasher = type(get_hasher("sha256_secret"))
    with (
        mock.patch.object(
            password_hasher, "encode", autospec=True, side_effect=password_hasher.encode
        ) as password,
        mock.patch.object(secret_hasher, "encode", autospec=True, side_effect=secret_hasher.encode) as secret,
    ):
        yield SimpleNamespace(password=password, secret=secret)


def introspect(client, auth, token, path=ENDPOINT[SUPER], **params):
    headers = {"Authorization": auth} if auth is not None else {}
    return client.post(path, {"token": token, **params}, secure=True, headers=headers)


def active(response) -> bool:
    assert response.status_code == 200, response.content
    return json.loads(response.content)["active"]


class TestBasicAuthentication:
    """A user ``name[@tenant]:password`` holding one of the configured permissions, hierarchically."""

    @pytest.mark.parametrize(
        "user",
        [
            "admin",  # /permission/admin, an ancestor of the view permission
            "manager",  # /permission/admin/manage, a nearer ancestor
            "viewer",  # exactly /permission/admin/manage/identity/applicationmgt/view
        ],
    )
    def test_permission_or_an_ancestor_of_it(self, client, world, user):
        assert active(
            introspect(client, basic(user, f"{user}-pw" if user != "admin" else "admin"), world.token)
        )

    @pytest.mark.parametrize(
        "user",
        [
            "login",  # /permission/admin/login only
            "deeper",  # a path below the wanted one grants nothing above it
            "sibling",  # another branch of the tree
            "nobody",  # no role at all
        ],
    )
    def test_without_the_permission_is_403(self, client, world, user):
        response = introspect(client, basic(user, f"{user}-pw"), world.token)
        assert response.status_code == 403
        assert json.loads(response.content)["error"] == "access_denied"
        assert "active" not in json.loads(response.content)

    def test_permissions_key_lets_login_holders_in(self, client, world, configure):
        """The WSO2 document's ``[resource_access_control.introspect] permissions`` snippet."""
        configure(LOGIN_MAY_INTROSPECT)
        assert active(introspect(client, basic("login", "login-pw"), world.token))
        assert active(introspect(client, basic("viewer", "viewer-pw"), world.token))
        assert introspect(client, basic("nobody", "nobody-pw"), world.token).status_code == 403

    def test_permissions_key_replaces_the_default(self, client, world, configure):
        configure(f'[resource_access_control.introspect]\npermissions = ["{LOGIN}"]\n')
        assert introspect(client, basic("viewer", "viewer-pw"), world.token).status_code == 403
        assert active(introspect(client, basic("login", "login-pw"), world.token))

    def test_tenant_user_at_its_tenant(self, client, world):
        token = make_token(world.clients[FOO])
        assert active(introspect(client, basic("admin@foo.com", "admin"), token, path=ENDPOINT[FOO]))

    def test_scheme_name_is_case_insensitive(self, client, world):
        """RFC 7235 §2.1."""
        assert active(introspect(client, ADMIN.replace("Basic", "basic"), world.token))

    def test_client_credentials_are_not_a_user(self, client, world):
        """Not enabled by default: the WSO2 document's entry turns client callers on."""
        assert introspect(client, CLIENT, world.token).status_code == 401


class TestBasicClientAuthentication:
    """The WSO2 document's ``allowed_auth_handlers="BasicClientAuthentication"`` entry."""

    def test_client_of_the_path_tenant(self, client, world, configure):
        configure(CLIENT_CALLERS)
        assert active(introspect(client, CLIENT, world.token))
        token = make_token(world.clients[FOO])
        assert active(introspect(client, CLIENT, token, path=ENDPOINT[FOO]))

    def test_users_are_refused_under_it(self, client, world, configure):
        configure(CLIENT_CALLERS)
        response = introspect(client, ADMIN, world.token)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="carbon.super"'

    def test_bearer_is_refused_under_it(self, client, world, configure):
        configure(CLIENT_CALLERS)
        assert introspect(client, bearer(world.bearer.introspect), world.token).status_code == 401

    def test_public_client_has_no_secret_to_show(self, client, world, configure):
        configure(CLIENT_CALLERS)
        public = fresh(world.clients[SUPER])
        public.client_type = public.CLIENT_PUBLIC
        public.save()
        assert introspect(client, CLIENT, world.token).status_code == 401

    def test_app_tenant_names_the_clients_tenant(self, client, world, configure):
        """``appTenant`` picks the tenant the client is looked up in (gate 1 then decides)."""
        configure(CLIENT_CALLERS)
        response = client.post(
            ENDPOINT[SUPER] + "?appTenant=foo.com",
            {"token": world.token},
            secure=True,
            headers={"Authorization": CLIENT},
        )
        # The foo.com client authenticated, then gate 1 refused a foo.com caller here, with the
        # very answer a wrong secret gets (no oracle across tenants).
        wrong = client.post(
            ENDPOINT[SUPER] + "?appTenant=foo.com",
            {"token": world.token},
            secure=True,
            headers={"Authorization": basic(CLIENT_ID, "wrong-secret")},
        )
        assert response.status_code == wrong.status_code == 401
        assert response.content == wrong.content
        assert response["WWW-Authenticate"] == wrong["WWW-Authenticate"]


class TestOAuthAuthentication:
    """``Authorization: Bearer`` with an active token of the caller's tenant carrying the scope."""

    def test_token_with_the_scope(self, client, world):
        assert active(introspect(client, bearer(world.bearer.introspect), world.token))

    def test_token_introspecting_itself(self, client, world):
        response = introspect(client, bearer(world.bearer.introspect), world.bearer.introspect)
        assert json.loads(response.content)["scope"] == "test1 internal_oauth2_introspect"

    def test_missing_scope_is_403_insufficient_scope(self, client, world):
        response = introspect(client, bearer(world.bearer.plain), world.token)
        assert response.status_code == 403
        assert json.loads(response.content)["error"] == "insufficient_scope"
        assert response["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
        assert 'scope="internal_oauth2_introspect"' in response["WWW-Authenticate"]

    def test_scopes_key_replaces_the_default(self, client, world, configure):
        configure('[resource_access_control.introspect]\nscopes = ["test2"]\n')
        assert active(introspect(client, bearer(world.bearer.plain), world.token))
        assert introspect(client, bearer(world.bearer.introspect), world.token).status_code == 403

    @pytest.mark.parametrize(
        ("scopes", "plain_ok", "introspect_ok"),
        [
            ('["nosuch", "test2"]', True, False),
            ('["internal_oauth2_introspect", "test2"]', True, True),
            ('["nosuch", "other"]', False, False),
        ],
    )
    def test_any_one_of_the_scopes_suffices(self, client, world, configure, scopes, plain_ok, introspect_ok):
        configure(f"[resource_access_control.introspect]\nscopes = {scopes}\n")
        for token, accepted in ((world.bearer.plain, plain_ok), (world.bearer.introspect, introspect_ok)):
            response = introspect(client, bearer(token), world.token)
            assert response.status_code == (200 if accepted else 403)

    def test_empty_scopes_accept_any_active_token(self, client, world, configure):
        configure("[resource_access_control.introspect]\nscopes = []\n")
        assert active(introspect(client, bearer(world.bearer.plain), world.token))
        assert active(introspect(client, bearer(make_token(world.clients[SUPER])), world.token))

    @pytest.mark.parametrize("name", ["expired", "revoked", "refresh"])
    def test_inactive_or_not_an_access_token_is_401(self, client, world, configure, name):
        """A refresh token is no bearer credential (RFC 6750 §1.2), whatever its scope."""
        configure("[resource_access_control.introspect]\nscopes = []\n")
        response = introspect(client, bearer(getattr(world.bearer, name)), world.token)
        assert response.status_code == 401

    def test_revoked_after_use_is_401_at_once(self, client, world):
        token = make_token(world.clients[SUPER], scope="internal_oauth2_introspect")
        assert active(introspect(client, bearer(token), world.token))
        AccessToken.objects.all_tenants().get(token_checksum=token_checksum(token)).revoke()
        assert introspect(client, bearer(token), world.token).status_code == 401

    def test_tenant_token_at_its_tenant(self, client, world):
        token = make_token(world.clients[FOO])
        assert active(introspect(client, bearer(world.bearer.foo), token, path=ENDPOINT[FOO]))

    def test_token_without_a_client_is_401(self, client, world):
        """Regression: a bearer token row with no client answered 500 (AttributeError)."""
        raw = "token-of-no-client"
        AccessToken.objects.create(
            tenant=world.tenants[SUPER],
            application=None,
            scope="internal_oauth2_introspect",
            expires=timezone.now() + timedelta(hours=1),
            token_checksum=token_checksum(raw),
        )
        assert introspect(client, bearer(raw), world.token).status_code == 401


class TestANewTenant:
    def test_drops_the_cached_user_callers(self, client, world, deployment_override):
        """A verified user caller is cached by its sign-in name, which a tenant created since may
        take over (``bob@example.org`` is example.org's ``bob`` once that tenant exists).
        Regression: the super tenant's bob@example.org, cached, went on introspecting as itself
        for up to ``[cache] max_age`` after tenant example.org appeared (created as a user of that
        name was, at the same moment, or by a path that does not check usernames)."""
        tenant = dataclasses.replace(settings.DEPLOYMENT.tenant, email_usernames=True)
        deployment_override(tenant=tenant)
        create_user(world.tenants[SUPER], "bob@example.org", "bob-pw", [permissions.INTROSPECT_VIEW])
        bob = basic("bob@example.org", "bob-pw")
        assert active(introspect(client, bob, world.token))  # now a cached caller
        Tenant.objects.create(domain="example.org")
        assert introspect(client, bob, world.token).status_code == 401


class TestHandlerSelection:
    """docs/introspection.md#callers, docs/deployment-toml.md: the first ``[[resource.access_control]]``
    entry matching the path decides."""

    FOO_CLIENTS_ELSE_USERS = """
[[resource.access_control]]
context = "/t/foo\\\\.com/oauth2/introspect"
allowed_auth_handlers = "BasicClientAuthentication"

[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
allowed_auth_handlers = "BasicAuthentication"
"""

    def test_no_entry_means_users_and_bearers(self, client, world):
        assert active(introspect(client, ADMIN, world.token))
        assert active(introspect(client, bearer(world.bearer.introspect), world.token))
        assert introspect(client, CLIENT, world.token).status_code == 401

    def test_first_matching_entry_wins(self, client, world, configure):
        configure(self.FOO_CLIENTS_ELSE_USERS)
        foo_token = make_token(world.clients[FOO])
        foo_admin = basic("admin@foo.com", "admin")
        assert active(introspect(client, CLIENT, foo_token, path=ENDPOINT[FOO]))
        assert introspect(client, foo_admin, foo_token, path=ENDPOINT[FOO]).status_code == 401
        assert active(introspect(client, ADMIN, world.token))
        assert introspect(client, CLIENT, world.token).status_code == 401
        assert introspect(client, bearer(world.bearer.introspect), world.token).status_code == 401

    def test_entry_for_other_methods_is_passed_over(self, client, world, configure):
        configure(
            '[[resource.access_control]]\ncontext = "(.*)/oauth2/introspect"\nhttp_method = "GET"\n'
            'allowed_auth_handlers = "BasicClientAuthentication"\n' + CLIENT_CALLERS.replace("Client", "")
        )
        assert active(introspect(client, ADMIN, world.token))
        response = client.get(
            ENDPOINT[SUPER], {"token": world.token}, secure=True, headers={"Authorization": CLIENT}
        )
        assert active(response)

    def test_entry_for_other_paths_leaves_the_defaults(self, client, world, configure):
        configure(
            '[[resource.access_control]]\ncontext = "(.*)/oauth2/token"\n'
            'allowed_auth_handlers = "BasicClientAuthentication"\n'
        )
        assert active(introspect(client, ADMIN, world.token))
        assert introspect(client, CLIENT, world.token).status_code == 401

    def test_both_basic_handlers_together(self, client, world, configure):
        """docs/introspection.md#callers: a Basic credential is accepted if it authenticates as either."""
        configure(EVERY_HANDLER)
        assert active(introspect(client, ADMIN, world.token))
        assert active(introspect(client, CLIENT, world.token))
        assert active(introspect(client, bearer(world.bearer.introspect), world.token))
        assert introspect(client, basic("nobody", "nobody-pw"), world.token).status_code == 403

    # allowed_auth_handlers -> (user, client, bearer accepted), the challenge of the 401 for the rest
    ONE_ENTRY = [
        ('"BasicAuthentication"', (True, False, False), 'Basic realm="carbon.super"'),
        ('"BasicClientAuthentication"', (False, True, False), 'Basic realm="carbon.super"'),
        ('"OAuthAuthentication"', (False, False, True), 'Bearer realm="carbon.super"'),
        (
            '"BasicAuthentication,BasicClientAuthentication"',
            (True, True, False),
            'Basic realm="carbon.super"',
        ),
        (
            '["BasicClientAuthentication", "OAuthAuthentication"]',
            (False, True, True),
            'Basic realm="carbon.super", Bearer realm="carbon.super"',
        ),
    ]

    @pytest.mark.parametrize(("handlers", "accepted", "challenge"), ONE_ENTRY)
    def test_only_the_entrys_handlers_are_accepted(
        self, client, world, configure, handlers, accepted, challenge
    ):
        configure(CLIENT_CALLERS.replace('"BasicClientAuthentication"', handlers))
        for caller, taken in zip((ADMIN, CLIENT, bearer(world.bearer.introspect)), accepted, strict=True):
            response = introspect(client, caller, world.token)
            if taken:
                assert active(response)
            else:
                assert (response.status_code, response["WWW-Authenticate"]) == (401, challenge)


class TestSkipAuthorization:
    """``[oauth.introspect] skip_authorization`` (Janssen's introspectionSkipAuthorization)."""

    ON = "[oauth.introspect]\nskip_authorization = true\n"

    def test_no_credentials_accepted(self, client, world, deployment_override):
        deployment_override(oauth=configured(self.ON).oauth)
        assert active(introspect(client, None, world.token))

    def test_presented_credentials_are_still_checked(self, client, world, deployment_override):
        """Skipping authorization accepts no credentials, not wrong ones."""
        deployment_override(oauth=configured(self.ON).oauth)
        assert introspect(client, basic("admin", "wrong"), world.token).status_code == 401
        assert introspect(client, basic("nobody", "nobody-pw"), world.token).status_code == 403

    def test_off_by_default(self, client, world):
        assert introspect(client, None, world.token).status_code == 401

    @pytest.mark.parametrize("skip", [True, False])
    def test_check_deploy_warns_while_on(self, world, deployment_override, skip):
        deployment_override(oauth=configured(self.ON if skip else "").oauth)
        out = io.StringIO()
        call_command("check", "--deploy", stdout=out, stderr=out)
        assert ("introspection.W001" in out.getvalue()) is skip
        if skip:
            assert "skip_authorization is on: anyone can introspect tokens" in out.getvalue()


# Every way a credential can be wrong, under the handlers that could take it.
BAD_CREDENTIALS = [
    pytest.param(None, id="no-header"),
    pytest.param("", id="empty-header"),
    pytest.param("Basic", id="basic-without-payload"),
    pytest.param("Basic !!!not-base64!!!", id="malformed-base64"),
    pytest.param("Basic " + "YWRtaW4", id="truncated-base64"),
    pytest.param("Basic //79", id="not-utf8"),
    pytest.param("Basic " + "YWRtaW5hZG1pbg==", id="no-colon"),  # "adminadmin"
    pytest.param(basic("", "admin"), id="empty-name"),
    pytest.param(basic("nosuchuser", "admin"), id="unknown-user"),
    pytest.param(basic("admin@nosuch.org", "admin"), id="unknown-tenant-of-user"),
    pytest.param(basic("admin", "wrong"), id="wrong-password"),
    pytest.param(basic("admin", ""), id="empty-password"),
    pytest.param(basic("nosuchclient", CLIENT_SECRET), id="unknown-client"),
    pytest.param(basic(CLIENT_ID, "wrong"), id="wrong-secret"),
    pytest.param(basic("admin\x00", "admin"), id="nul-in-name"),
    pytest.param("Bearer not-a-token", id="bad-bearer"),
    pytest.param("Bearer", id="bearer-without-token"),
    pytest.param("Digest username=admin", id="other-scheme"),
]


class TestCredentialFailures:
    """docs/introspection.md#callers: missing, malformed or wrong credentials get one answer (no user or
    client enumeration)."""

    UNAUTHORIZED = {
        "error": "invalid_client",
        "error_description": "valid credentials are required to introspect tokens",
    }

    def check(self, response, challenge: str) -> None:
        assert response.status_code == 401
        assert json.loads(response.content) == self.UNAUTHORIZED
        assert response["WWW-Authenticate"] == challenge
        assert response["Content-Type"] == "application/json"

    @pytest.mark.parametrize("auth", BAD_CREDENTIALS)
    def test_default_handlers(self, client, world, auth):
        response = introspect(client, auth, world.token)
        self.check(response, 'Basic realm="carbon.super", Bearer realm="carbon.super"')

    @pytest.mark.parametrize("auth", BAD_CREDENTIALS)
    def test_every_handler(self, client, world, configure, auth):
        configure(EVERY_HANDLER)
        response = introspect(client, auth, world.token)
        self.check(response, 'Basic realm="carbon.super", Bearer realm="carbon.super"')

    @pytest.mark.parametrize("auth", BAD_CREDENTIALS)
    def test_client_handler(self, client, world, configure, auth):
        configure(CLIENT_CALLERS)
        self.check(introspect(client, auth, world.token), 'Basic realm="carbon.super"')

    def test_unknown_app_tenant(self, client, world, configure):
        configure(CLIENT_CALLERS)
        response = client.post(
            ENDPOINT[SUPER] + "?appTenant=nosuch.org",
            {"token": world.token},
            secure=True,
            headers={"Authorization": CLIENT},
        )
        self.check(response, 'Basic realm="carbon.super"')

    def test_realm_is_the_path_tenant(self, client, world):
        response = introspect(client, None, world.token, path=ENDPOINT[FOO])
        self.check(response, 'Basic realm="foo.com", Bearer realm="foo.com"')

    def test_refused_caller_tenant_is_challenged_too(self, client, world):
        """Regression: gate 1's 401 had no WWW-Authenticate, which RFC 7235 §3.1 requires."""
        response = introspect(client, basic("admin@foo.com", "admin"), world.token)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="carbon.super", Bearer realm="carbon.super"'

    @pytest.mark.parametrize("flag", ["is_active", "is_locked"])
    def test_inactive_or_locked_user(self, client, world, flag):
        """docs/admin.md: locked or inactive users cannot authenticate anywhere."""
        viewer = fresh(world.users[SUPER]["viewer"])
        setattr(viewer, flag, not getattr(viewer, flag))
        viewer.save()
        self.check(
            introspect(client, basic("viewer", "viewer-pw"), world.token),
            'Basic realm="carbon.super", Bearer realm="carbon.super"',
        )


class TestSameWorkWhateverIsWrong:
    """An unknown user or client costs the hash a wrong password or secret costs (Django #20760).

    Counted, not timed: the hashers are the slow part, and a count does not flake.
    """

    @pytest.mark.parametrize(
        "auth",
        [
            basic("nosuchuser", "admin"),
            basic("admin@nosuch.org", "admin"),
            basic("admin", "wrong"),
            basic("admin", "admin"),
        ],
    )
    def test_user_paths_hash_once(self, client, world, hashes, auth):
        introspect(client, auth, world.token)
        assert hashes.password.call_count == 1

    @pytest.mark.parametrize(
        "auth",
        [basic("nosuchclient", "secret"), basic(CLIENT_ID, "wrong"), CLIENT],
    )
    def test_client_paths_hash_once(self, client, world, configure, hashes, auth):
        configure(CLIENT_CALLERS)
        introspect(client, auth, world.token)
        assert hashes.secret.call_count == 1
        assert hashes.password.call_count == 0

    @pytest.mark.parametrize(
        "auth",
        [
            basic("nosuchuser", "x"),
            basic("admin", "wrong"),
            basic("nosuchclient", "x"),
            basic(CLIENT_ID, "wrong"),
        ],
    )
    def test_both_basic_handlers_hash_alike(self, client, world, configure, hashes, auth):
        configure(EVERY_HANDLER)
        introspect(client, auth, world.token)
        assert (hashes.password.call_count, hashes.secret.call_count) == (1, 1)


class TestCallerCache:
    """A verified caller is remembered: no hash and no query for it (nor for a token seen before)
    on the next request."""

    def second_request(self, client, auth, token):
        """Introspect twice; return the queries of the second request."""
        assert active(introspect(client, auth, token))
        with CaptureQueriesContext(connection) as queries:
            assert active(introspect(client, auth, token))
        return queries

    @pytest.mark.parametrize("auth", [ADMIN, basic("viewer", "viewer-pw")])
    def test_user(self, client, world, hashes, auth):
        queries = self.second_request(client, auth, world.token)
        assert hashes.password.call_count == 1
        assert len(queries) == 0

    def test_client(self, client, world, configure, hashes):
        configure(CLIENT_CALLERS)
        queries = self.second_request(client, CLIENT, world.token)
        assert hashes.secret.call_count == 1
        assert len(queries) == 0

    def test_bearer(self, client, world):
        queries = self.second_request(client, bearer(world.bearer.introspect), world.token)
        assert len(queries) == 0

    def test_different_credential_is_checked_again(self, client, world, hashes):
        assert active(introspect(client, ADMIN, world.token))
        assert introspect(client, basic("admin", "admin "), world.token).status_code == 401
        assert hashes.password.call_count == 2

    def test_changed_password(self, client, world):
        assert active(introspect(client, ADMIN, world.token))
        admin = fresh(world.users[SUPER]["admin"])
        admin.set_password("changed")
        admin.save()
        assert introspect(client, ADMIN, world.token).status_code == 401
        assert active(introspect(client, basic("admin", "changed"), world.token))

    def test_deactivated_user(self, client, world):
        assert active(introspect(client, ADMIN, world.token))
        admin = fresh(world.users[SUPER]["admin"])
        admin.is_active = False
        admin.save()
        assert introspect(client, ADMIN, world.token).status_code == 401

    def test_removed_role(self, client, world):
        viewer = fresh(world.users[SUPER]["viewer"])
        assert active(introspect(client, basic("viewer", "viewer-pw"), world.token))
        viewer.roles.clear()
        assert introspect(client, basic("viewer", "viewer-pw"), world.token).status_code == 403

    def test_role_losing_its_permission(self, client, world):
        assert active(introspect(client, basic("viewer", "viewer-pw"), world.token))
        role = world.users[SUPER]["viewer"].roles.get()
        role.permissions = [LOGIN]
        role.save()
        assert introspect(client, basic("viewer", "viewer-pw"), world.token).status_code == 403

    def test_deleted_role(self, client, world):
        assert active(introspect(client, basic("viewer", "viewer-pw"), world.token))
        Role.objects.for_tenant(world.tenants[SUPER]).filter(users=world.users[SUPER]["viewer"]).delete()
        assert introspect(client, basic("viewer", "viewer-pw"), world.token).status_code == 403

    def test_bearer_whose_owner_lost_the_permission(self, client, world):
        """The internal scope is re-checked at use: the client's owner no longer holds it."""
        caller = bearer(world.bearer.introspect)
        assert active(introspect(client, caller, world.token))
        Role.objects.for_tenant(world.tenants[SUPER]).filter(users=world.users[SUPER]["admin"]).update(
            permissions=[LOGIN]
        )
        assert introspect(client, caller, world.token).status_code == 403

    def test_bearer_of_a_deactivated_client(self, client, world):
        caller = bearer(world.bearer.introspect)
        assert active(introspect(client, caller, world.token))
        Client.objects.for_tenant(world.tenants[SUPER]).update(active=False)
        assert introspect(client, caller, world.token).status_code == 401

    def test_deactivated_tenant_of_the_caller(self, client, world, configure):
        """Regression: a cached caller of a tenant deactivated since stayed accepted for 10 s."""
        configure(CROSS_TENANT_USERS_AND_BEARERS)
        foo_admin = basic("admin@foo.com", "admin")
        assert active(introspect(client, foo_admin, world.token))
        assert active(introspect(client, bearer(world.bearer.foo), world.token))
        foo = fresh(world.tenants[FOO])
        foo.active = False
        foo.save()
        assert introspect(client, foo_admin, world.token).status_code == 401
        assert introspect(client, bearer(world.bearer.foo), world.token).status_code == 401

    def test_rotated_client_secret(self, client, world, configure):
        configure(CLIENT_CALLERS)
        assert active(introspect(client, CLIENT, world.token))
        sup = fresh(world.clients[SUPER])
        sup.client_secret = "rotated-secret"
        sup.save()
        assert introspect(client, CLIENT, world.token).status_code == 401
        assert active(introspect(client, basic(CLIENT_ID, "rotated-secret"), world.token))

    def test_deleted_client(self, client, world, configure):
        configure(CLIENT_CALLERS)
        token = make_token(world.clients[FOO])
        assert active(introspect(client, CLIENT, token, path=ENDPOINT[FOO]))
        fresh(world.clients[FOO]).delete()
        assert introspect(client, CLIENT, token, path=ENDPOINT[FOO]).status_code == 401
