"""The token endpoint of a tenant (docs/clients-and-grants.md; RFC 6749 §3.2, §4, §5, §6; RFC 7636; RFC
8707)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from identity.models import AccessToken, RefreshToken
from tests.support.auth import basic_auth
from tests.support.oauth import (
    DEMO,
    REDIRECT_URI,
    TOKEN_PATHS,
    authorize,
    error_of,
    exchange_code,
    password_grant,
    pkce_pair,
    sign_in,
    stored,
    stored_refresh,
    token_request,
)
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

DEMO_ID, DEMO_SECRET = DEMO
CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


class TestClientCredentials:
    """The WSO2 document's two token requests, at the super tenant and at foo.com."""

    @pytest.mark.parametrize("tenant", TOKEN_PATHS)
    def test_without_scope_answers_exactly_the_documented_keys(self, client, world, tenant):
        response = token_request(
            client, TOKEN_PATHS[tenant], {"grant_type": "client_credentials"}, (DEMO_ID, DEMO_SECRET)
        )
        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        body = json.loads(response.content)
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert stored(body["access_token"]).scope == ""

    @pytest.mark.parametrize("tenant", TOKEN_PATHS)
    @pytest.mark.parametrize("scope", ["test1 test2", "test1", "internal_oauth2_introspect"])
    def test_with_scope_answers_the_scope_asked(self, client, world, tenant, scope):
        response = token_request(
            client,
            TOKEN_PATHS[tenant],
            {"grant_type": "client_credentials", "scope": scope},
            (DEMO_ID, DEMO_SECRET),
        )
        body = json.loads(response.content)
        assert set(body) == {"access_token", "scope", "token_type", "expires_in"}
        assert (body["scope"], body["token_type"], body["expires_in"]) == (scope, "Bearer", 3600)
        assert stored(body["access_token"]).scope == scope

    @pytest.mark.parametrize("scope", ["test3", "test1 test3", "openid"])
    def test_scope_not_allowed_is_invalid_scope(self, client, world, scope):
        response = token_request(
            client,
            TOKEN_PATHS["foo.com"],
            {"grant_type": "client_credentials", "scope": scope},
            (DEMO_ID, DEMO_SECRET),
        )
        assert error_of(response) == "invalid_scope"

    @pytest.mark.parametrize("tenant", TOKEN_PATHS)
    def test_token_is_the_owners_and_records_its_grant_type(self, client, world, tenant):
        response = token_request(
            client, TOKEN_PATHS[tenant], {"grant_type": "client_credentials"}, (DEMO_ID, DEMO_SECRET)
        )
        token = stored(json.loads(response.content)["access_token"])
        assert token.grant_type == "client_credentials"
        assert token.is_app_token
        assert token.user == token.application.user
        assert token.user.qualified_name == f"admin@{tenant}"

    def test_no_refresh_token_for_client_credentials(self, client, world):
        """RFC 6749 §4.4.3: a refresh token SHOULD NOT be included."""
        response = token_request(
            client, TOKEN_PATHS["foo.com"], {"grant_type": "client_credentials"}, (DEMO_ID, DEMO_SECRET)
        )
        assert "refresh_token" not in json.loads(response.content)

    def test_grant_type_not_allowed_to_the_client_is_unauthorized_client(self, client, world):
        response = token_request(
            client,
            TOKEN_PATHS["foo.com"],
            {"grant_type": "password", "username": "alice", "password": "alice-pw"},
            world.short,
        )
        assert error_of(response) == "unauthorized_client"


class TestClientAuthentication:
    """HTTP Basic and client_secret_post (RFC 6749 §2.3.1); clients are their tenant's only."""

    @pytest.mark.parametrize("method", ["basic", "post"])
    def test_both_methods_are_accepted(self, client, world, method):
        data = {"grant_type": "client_credentials"}
        credentials = (DEMO_ID, DEMO_SECRET)
        if method == "post":
            data.update(client_id=DEMO_ID, client_secret=DEMO_SECRET)
            credentials = None
        response = token_request(client, TOKEN_PATHS["foo.com"], data, credentials)
        assert response.status_code == 200, response.content

    @pytest.mark.parametrize(
        ("client_id", "secret"),
        [
            (DEMO_ID, "wrong"),
            (DEMO_ID, ""),
            ("nobody", DEMO_SECRET),
            (DEMO_ID.lower(), DEMO_SECRET),
        ],
    )
    @pytest.mark.parametrize("method", ["basic", "post"])
    def test_bad_credentials_are_invalid_client(self, client, world, client_id, secret, method):
        data = {"grant_type": "client_credentials"}
        credentials = (client_id, secret)
        if method == "post":
            data.update(client_id=client_id, client_secret=secret)
            credentials = None
        before = AccessToken.objects.all_tenants().count()
        response = token_request(client, TOKEN_PATHS["foo.com"], data, credentials)
        assert error_of(response, 401) == "invalid_client"
        assert AccessToken.objects.all_tenants().count() == before

    @pytest.mark.parametrize(
        "authorization",
        [
            basic_auth("nobody", "x"),  # another client id each time: another throttle identity
            basic_auth(DEMO_ID, "wrong"),
            {"Authorization": "Basic %%%"},  # not base64
        ],
    )
    def test_a_failed_basic_credential_is_not_rescued_by_the_body(self, client, world, authorization):
        """Regression: a wrong Basic credential fell back to ``client_secret`` in the body, so a
        guesser named a new client in Basic at each try and was throttled as that client, never
        as the one whose secret it guessed (RFC 6749 §2.3: one method per request)."""
        data = {
            "grant_type": "client_credentials",
            "client_id": world.short[0],
            "client_secret": world.short[1],
        }
        before = AccessToken.objects.all_tenants().count()
        response = client.post(TOKEN_PATHS["foo.com"], data, secure=True, headers=authorization)
        assert error_of(response, 401) == "invalid_client"
        assert AccessToken.objects.all_tenants().count() == before

    def test_a_client_id_in_the_body_naming_another_client_is_invalid_client(self, client, world):
        """Regression: Basic for one client and ``client_id`` of another in the body answered
        oauthlib's ``server_error``, a client's mistake reported as the server's bug."""
        data = {"grant_type": "client_credentials", "client_id": world.short[0]}
        response = token_request(client, TOKEN_PATHS["foo.com"], data, (DEMO_ID, DEMO_SECRET))
        assert error_of(response, 401) == "invalid_client"

    def test_no_credentials_is_invalid_client(self, client, world):
        response = token_request(client, TOKEN_PATHS["foo.com"], {"grant_type": "client_credentials"})
        assert error_of(response, 401) == "invalid_client"

    @pytest.mark.parametrize("tenant", TOKEN_PATHS)
    def test_same_client_id_and_secret_in_two_tenants_each_token_in_its_tenant(self, client, world, tenant):
        response = token_request(
            client, TOKEN_PATHS[tenant], {"grant_type": "client_credentials"}, (DEMO_ID, DEMO_SECRET)
        )
        token = stored(json.loads(response.content)["access_token"])
        assert token.tenant.domain == tenant
        assert token.application.tenant.domain == tenant
        assert token.application.client_id == DEMO_ID

    @pytest.mark.parametrize("path", ["/oauth2/token", "/t/foo.com/oauth2/token"])
    @pytest.mark.parametrize("method", ["basic", "post"])
    def test_client_of_another_tenant_is_invalid_client_and_gets_no_token(self, client, world, path, method):
        data = {"grant_type": "client_credentials"}
        credentials = world.barclient
        if method == "post":
            data.update(client_id=world.barclient[0], client_secret=world.barclient[1])
            credentials = None
        before = AccessToken.objects.all_tenants().count()
        response = token_request(client, path, data, credentials)
        assert error_of(response, 401) == "invalid_client"
        assert AccessToken.objects.all_tenants().count() == before
        # The same request at its own tenant works: only the tenant was wrong.
        own = token_request(client, "/t/bar.com/oauth2/token", data, credentials)
        assert own.status_code == 200
        assert stored(json.loads(own.content)["access_token"]).tenant == world.bar


class TestPasswordGrant:
    """RFC 6749 §4.3: ``username`` names a user of the endpoint's tenant."""

    @pytest.mark.parametrize(
        ("path", "username", "password", "expected"),
        [
            ("/oauth2/token", "admin", "admin", "admin@carbon.super"),
            ("/oauth2/token", "admin@carbon.super", "admin", "admin@carbon.super"),
            ("/t/foo.com/oauth2/token", "admin", "admin", "admin@foo.com"),
            ("/t/foo.com/oauth2/token", "admin@foo.com", "admin", "admin@foo.com"),
            ("/t/foo.com/oauth2/token", "alice", "alice-pw", "alice@foo.com"),
        ],
    )
    def test_user_of_the_tenant_gets_access_and_refresh_token(
        self, client, world, path, username, password, expected
    ):
        response = token_request(
            client,
            path,
            {"grant_type": "password", "username": username, "password": password, "scope": "test1"},
            (DEMO_ID, DEMO_SECRET),
        )
        assert response.status_code == 200, response.content
        body = json.loads(response.content)
        assert set(body) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
        token = stored(body["access_token"])
        assert token.user.qualified_name == expected
        assert token.grant_type == "password"
        assert not token.is_app_token
        refresh = stored_refresh(body["refresh_token"])
        assert refresh.access_token == token
        assert refresh.tenant == token.tenant

    def test_no_refresh_token_for_a_client_without_the_refresh_token_grant(self, client, world):
        """Regression: every password and code grant got a (useless, stored) refresh token."""
        before = RefreshToken.objects.all_tenants().count()
        response = token_request(
            client,
            TOKEN_PATHS["foo.com"],
            {"grant_type": "password", "username": "alice", "password": "alice-pw"},
            world.pwonly,
        )
        assert set(json.loads(response.content)) == {"access_token", "token_type", "expires_in"}
        assert RefreshToken.objects.all_tenants().count() == before

    @pytest.mark.parametrize(
        ("path", "username", "password"),
        [
            # Users of another tenant, by their qualified name.
            ("/t/foo.com/oauth2/token", "admin@carbon.super", "admin"),
            ("/t/foo.com/oauth2/token", "admin@bar.com", "bar-admin"),
            ("/oauth2/token", "admin@foo.com", "admin"),
            ("/oauth2/token", "alice@foo.com", "alice-pw"),
            # A bare name is the endpoint's tenant's user: there is no alice in carbon.super.
            ("/oauth2/token", "alice", "alice-pw"),
            # Locked or inactive (docs/admin.md), with the right password.
            ("/t/foo.com/oauth2/token", "locked", "locked-pw"),
            ("/t/foo.com/oauth2/token", "inactive", "inactive-pw"),
            # Wrong password, unknown user.
            ("/t/foo.com/oauth2/token", "admin", "wrong"),
            ("/t/foo.com/oauth2/token", "nobody", "admin"),
        ],
    )
    def test_refused_users_are_invalid_grant(self, client, world, path, username, password):
        before = AccessToken.objects.all_tenants().count()
        response = token_request(
            client,
            path,
            {"grant_type": "password", "username": username, "password": password},
            (DEMO_ID, DEMO_SECRET),
        )
        assert error_of(response) == "invalid_grant"
        assert AccessToken.objects.all_tenants().count() == before


def refresh(client, refresh_token: str, **extra):
    return token_request(
        client,
        TOKEN_PATHS["foo.com"],
        {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
        DEMO,
    )


class TestRefreshRotation:
    """RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2)."""

    def test_refresh_gives_a_new_pair_and_kills_the_old_refresh_token(self, client, world):
        first = password_grant(client, scope="test1 test2")
        response = refresh(client, first["refresh_token"])
        assert response.status_code == 200, response.content
        second = json.loads(response.content)
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert second["scope"] == "test1 test2"
        assert stored(second["access_token"]).user.qualified_name == "alice@foo.com"
        old = stored_refresh(first["refresh_token"])
        assert old.revoked is not None
        # The new refresh token works in turn.
        assert refresh(client, second["refresh_token"]).status_code == 200

    def test_replay_of_a_rotated_refresh_token_revokes_the_family(self, client, world):
        """Regression: the family's access tokens were deleted, not marked revoked."""
        first = password_grant(client, scope="test1 test2")
        second = json.loads(refresh(client, first["refresh_token"]).content)

        assert error_of(refresh(client, first["refresh_token"])) == "invalid_grant"

        # The replay revoked the whole family: the new refresh token and its access token too.
        assert error_of(refresh(client, second["refresh_token"])) == "invalid_grant"
        assert stored_refresh(first["refresh_token"]).revoked is not None
        assert stored_refresh(second["refresh_token"]).revoked is not None
        # Marked revoked, not deleted: kept for the admin's list until `cleartokens` (docs/clients-and-
        # grants.md, docs/admin.md).
        assert stored(second["access_token"]).revoked is not None

    def test_scope_can_narrow_but_not_widen(self, client, world):
        tokens = password_grant(client, scope="test1")
        assert error_of(refresh(client, tokens["refresh_token"], scope="test1 test2")) == "invalid_scope"
        tokens = password_grant(client, scope="test1 test2")
        narrowed = json.loads(refresh(client, tokens["refresh_token"], scope="test2").content)
        assert narrowed["scope"] == "test2"

    def test_a_scope_the_client_is_no_longer_allowed_is_left_out(self, client, world):
        """Regression: a refresh token renewed scopes its client's admin had since taken away
        from the client's allowed scopes, for as long as the family lived."""
        tokens = password_grant(client, scope="test1 test2")
        world.foo.clients.filter(client_id=DEMO_ID).update(allowed_scopes=["test1"])
        response = refresh(client, tokens["refresh_token"])
        assert response.status_code == 200, response.content
        renewed = json.loads(response.content)
        assert renewed["scope"] == "test1"
        assert stored(renewed["access_token"]).scope == "test1"

    def test_refresh_token_of_another_tenant_is_invalid_grant(self, client, world):
        response = token_request(
            client,
            TOKEN_PATHS["carbon.super"],
            {"grant_type": "password", "username": "admin", "password": "admin"},
            (DEMO_ID, DEMO_SECRET),
        )
        super_refresh = json.loads(response.content)["refresh_token"]
        # Same client id and secret at foo.com: the token is not foo.com's.
        assert error_of(refresh(client, super_refresh)) == "invalid_grant"

    def test_expired_refresh_token_is_invalid_grant(self, client, world):
        tokens = password_grant(client, scope="test1 test2")
        RefreshToken.objects.all_tenants().filter(pk=stored_refresh(tokens["refresh_token"]).pk).update(
            expires=timezone.now() - timedelta(seconds=1)
        )
        assert error_of(refresh(client, tokens["refresh_token"])) == "invalid_grant"

    def test_refresh_token_lives_refresh_token_validity(self, client, world):
        tokens = password_grant(client, scope="test1 test2")
        row = stored_refresh(tokens["refresh_token"])
        assert (row.expires - row.created).total_seconds() == pytest.approx(
            settings.DEPLOYMENT.oauth.refresh_token_validity, abs=2
        )


class TestAuthorizationCode:
    """RFC 6749 §4.1 with PKCE S256 (RFC 7636) and the tenant's own login page."""

    AUTHORIZE = "/t/foo.com/oauth2/authorize?" + urlencode(
        {"response_type": "code", "client_id": "webapp", "redirect_uri": REDIRECT_URI}
    )

    def test_full_flow_with_pkce(self, client, world):
        """Regression: an authorization request with ``scope`` failed with a KeyError (500)."""
        verifier, challenge = pkce_pair()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": "webapp",
                "redirect_uri": REDIRECT_URI,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "scope": "test1",
                "state": "xyz",
            }
        )
        # Not signed in: to this tenant's login page, which brings the user back.
        response = client.get(f"/t/foo.com/oauth2/authorize?{query}", secure=True)
        assert response.status_code == 302
        login = urlsplit(response["Location"])
        assert login.path == "/t/foo.com/login/"
        next_url = parse_qs(login.query)["next"][0]
        assert next_url == f"/t/foo.com/oauth2/authorize?{query}"
        assert client.get(login.path, secure=True).status_code == 200

        response = sign_in(client, "/t/foo.com", "alice", "alice-pw", next_url)
        assert response.status_code == 302
        assert response["Location"] == next_url

        code = authorize(client, "webapp", challenge, scope="test1")
        response = exchange_code(client, code, verifier, world.web)
        assert response.status_code == 200, response.content
        body = json.loads(response.content)
        assert set(body) == {"access_token", "refresh_token", "scope", "token_type", "expires_in"}
        assert (body["scope"], body["token_type"], body["expires_in"]) == ("test1", "Bearer", 3600)
        token = stored(body["access_token"])
        assert (token.user.qualified_name, token.grant_type) == ("alice@foo.com", "authorization_code")
        assert token.tenant == world.foo
        # The code is single use (RFC 6749 §4.1.2).
        assert error_of(exchange_code(client, code, verifier, world.web)) == "invalid_grant"

    def test_public_client_with_pkce(self, client, world):
        """Also a regression: a request without ``scope`` could not be consented to, and the
        client got a refresh token although it is not allowed the refresh_token grant."""
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        verifier, challenge = pkce_pair()
        code = authorize(client, world.spa, challenge)
        response = token_request(
            client,
            TOKEN_PATHS["foo.com"],
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": world.spa,
                "code_verifier": verifier,
            },
        )
        assert response.status_code == 200, response.content
        assert set(json.loads(response.content)) == {"access_token", "token_type", "expires_in"}

    # a token alice already holds for webapp (grant type, revoked, scope), the scope asked, silent
    AUTO_APPROVAL = [
        (None, "test1", False),
        (("authorization_code", False, "test1 test2"), "test1", True),
        (("authorization_code", False, "test1"), "test1 test2", False),
        (("authorization_code", True, "test1 test2"), "test1", False),  # consent revoked
        (("password", False, "test1 test2"), "test1", False),  # no consent was ever shown
    ]

    @pytest.mark.parametrize(("held", "scope", "silent"), AUTO_APPROVAL)
    def test_approval_prompt_auto_needs_an_earlier_consent(self, client, world, held, scope, silent):
        """Decided with the security audit: ``approval_prompt=auto`` approved silently on any token."""
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        if held is not None:
            grant_type, revoked, held_scope = held
            AccessToken.objects.create(
                tenant=world.foo,
                application=world.foo.clients.get(client_id="webapp"),
                user=world.foo.users.get(username="alice"),
                grant_type=grant_type,
                scope=held_scope,
                revoked=timezone.now() if revoked else None,
                expires=timezone.now() + timedelta(hours=1),
                token_checksum=f"checksum-{grant_type}-{revoked}-{held_scope}",
            )
        _, challenge = pkce_pair()
        query = {
            "response_type": "code",
            "client_id": "webapp",
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": scope,
            "approval_prompt": "auto",
        }
        response = client.get(f"/t/foo.com/oauth2/authorize?{urlencode(query)}", secure=True)
        assert response.status_code == (302 if silent else 200), response.content[:300]
        if silent:
            assert response["Location"].startswith(REDIRECT_URI + "?code=")

    @pytest.mark.parametrize(
        "verifier",
        [
            "",  # PKCE is required
            "a-different-verifier-of-enough-length-abcdefghijklmnop",
        ],
    )
    def test_wrong_or_missing_code_verifier_is_refused(self, client, world, verifier):
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        _, challenge = pkce_pair()
        code = authorize(client, "webapp", challenge)
        assert error_of(exchange_code(client, code, verifier, world.web)) in (
            "invalid_grant",
            "invalid_request",
        )

    def test_authorization_request_without_pkce_is_refused(self, client, world):
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        response = client.get(self.AUTHORIZE + "&state=xyz", secure=True)
        assert response.status_code == 302
        params = parse_qs(urlsplit(response["Location"]).query)
        assert params["error"] == ["invalid_request"]
        assert "code" not in params

    def test_user_of_another_tenant_must_sign_in_again(self, client, world):
        assert sign_in(client, "", "admin", "admin").status_code == 302  # signed in at carbon.super
        _, challenge = pkce_pair()
        url = self.AUTHORIZE + "&" + urlencode({"code_challenge": challenge, "code_challenge_method": "S256"})
        response = client.get(url, secure=True)
        assert response.status_code == 302
        assert urlsplit(response["Location"]).path == "/t/foo.com/login/"
        # Posting the consent form does not help either.
        response = client.post(url, {"allow": "Authorize"}, secure=True)
        assert urlsplit(response["Location"]).path == "/t/foo.com/login/"

    @pytest.mark.parametrize(
        ("username", "password"),
        [
            ("admin@carbon.super", "admin"),
            ("admin@bar.com", "bar-admin"),
            ("locked", "locked-pw"),
            ("alice", "wrong"),
        ],
    )
    def test_only_users_of_the_tenant_can_sign_in_at_its_login_page(self, client, world, username, password):
        response = sign_in(client, "/t/foo.com", username, password)
        assert response.status_code == 200  # the form again, with its error
        assert response.context["form"].errors
        assert "_auth_user_id" not in client.session

    OTHER_URI = "https://app.example/other"
    # redirect_uri of the authorization request (None: left out), of the token request, the error
    REDIRECT_URI_RULE = [
        (REDIRECT_URI, REDIRECT_URI, None),
        (REDIRECT_URI, None, "invalid_grant"),  # named at authorization: required, even the only one
        (REDIRECT_URI, OTHER_URI, "invalid_grant"),
        (None, None, None),
        (None, REDIRECT_URI, None),
        (None, OTHER_URI, "invalid_grant"),
    ]

    @pytest.mark.parametrize(("authorized", "exchanged", "error"), REDIRECT_URI_RULE)
    def test_redirect_uri_at_the_exchange(self, client, world, authorized, exchanged, error):
        """RFC 6749 §4.1.3. Regression: a code asked for naming the client's one registered
        redirect URI was exchanged without it (the server could not tell it from a code asked for
        without one), and a different one was invalid_request, not invalid_grant."""
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        verifier, challenge = pkce_pair()
        code = authorize(client, "webapp", challenge, redirect_uri=authorized)
        response = exchange_code(client, code, verifier, world.web, redirect_uri=exchanged)
        if error is None:
            assert response.status_code == 200, response.content
        else:
            assert error_of(response) == error

    @pytest.mark.parametrize(("authorized", "exchanged", "error"), REDIRECT_URI_RULE)
    def test_redirect_uri_at_the_exchange_without_consent_page(
        self, client, world, authorized, exchanged, error
    ):
        """The same rule for a client that skips the consent page (its code is made on the GET)."""
        webapp = world.foo.clients.get(client_id="webapp")
        webapp.skip_authorization = True
        webapp.save()
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        verifier, challenge = pkce_pair()
        query = {
            "response_type": "code",
            "client_id": "webapp",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if authorized is not None:
            query["redirect_uri"] = authorized
        response = client.get(f"/t/foo.com/oauth2/authorize?{urlencode(query)}", secure=True)
        assert response.status_code == 302, response.content
        code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
        response = exchange_code(client, code, verifier, world.web, redirect_uri=exchanged)
        if error is None:
            assert response.status_code == 200, response.content
        else:
            assert error_of(response) == error

    def test_code_of_one_client_cannot_be_used_by_another(self, client, world):
        sign_in(client, "/t/foo.com", "alice", "alice-pw")
        verifier, challenge = pkce_pair()
        code = authorize(client, world.spa, challenge)
        assert error_of(exchange_code(client, code, verifier, world.web)) == "invalid_grant"


class TestErrors:
    """RFC 6749 §5.2: status 400 (401 for invalid_client), JSON ``error`` and ``error_description``."""

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            ({"grant_type": "implicit"}, "unsupported_grant_type"),
            ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, "unsupported_grant_type"),
            ({"grant_type": "nonsense"}, "unsupported_grant_type"),
            # Regression: a missing grant_type was answered unsupported_grant_type.
            ({}, "invalid_request"),
            ({"grant_type": ""}, "invalid_request"),
            ({"grant_type": "password", "password": "admin"}, "invalid_request"),
            ({"grant_type": "password", "username": "admin"}, "invalid_request"),
            ({"grant_type": "refresh_token"}, "invalid_request"),
            ({"grant_type": "refresh_token", "refresh_token": "not-a-token"}, "invalid_grant"),
            ({"grant_type": "password", "username": "admin", "password": "bad"}, "invalid_grant"),
        ],
    )
    def test_error(self, client, world, data, error):
        response = token_request(client, TOKEN_PATHS["foo.com"], data, (DEMO_ID, DEMO_SECRET))
        assert error_of(response) == error

    def test_bad_code_is_invalid_grant(self, client, world):
        response = token_request(
            client,
            TOKEN_PATHS["foo.com"],
            {
                "grant_type": "authorization_code",
                "code": "made-up",
                "redirect_uri": REDIRECT_URI,
                "code_verifier": pkce_pair()[0],
            },
            world.web,
        )
        assert error_of(response) == "invalid_grant"

    @pytest.mark.parametrize("endpoint", ["token", "revoke"])
    @pytest.mark.parametrize("method", ["basic", "post"])
    def test_invalid_client_challenges_with_basic(self, client, world, endpoint, method):
        """RFC 6749 §5.2: a 401 names the scheme the client may authenticate with in the header,
        Basic. Regression: oauthlib's challenge named Bearer, which no client can use here."""
        data = {"grant_type": "client_credentials", "token": "a-token"}
        credentials = (DEMO_ID, "wrong")
        if method == "post":
            data.update(client_id=DEMO_ID, client_secret="wrong")
            credentials = None
        response = token_request(client, f"/t/foo.com/oauth2/{endpoint}", data, credentials)
        assert error_of(response, 401) == "invalid_client"
        assert response["WWW-Authenticate"] == 'Basic realm="foo.com"'

    def test_get_is_refused(self, client, world):
        response = client.get(TOKEN_PATHS["foo.com"] + "?grant_type=client_credentials", secure=True)
        assert response.status_code == 405


class TestLifetimes:
    """``expires_in``: the client's ``access_token_lifetime``, else ``[oauth] access_token_validity``."""

    def test_client_lifetime(self, client, world):
        response = token_request(
            client, TOKEN_PATHS["foo.com"], {"grant_type": "client_credentials"}, world.short
        )
        body = json.loads(response.content)
        assert body["expires_in"] == 120
        token = stored(body["access_token"])
        assert (token.expires - token.created).total_seconds() == pytest.approx(120, abs=2)

    def test_access_token_validity(self, client, world, deployment_override):
        deployment_override(oauth=dataclasses.replace(settings.DEPLOYMENT.oauth, access_token_validity=900))
        response = token_request(
            client, TOKEN_PATHS["foo.com"], {"grant_type": "client_credentials"}, (DEMO_ID, DEMO_SECRET)
        )
        body = json.loads(response.content)
        assert body["expires_in"] == 900
        token = stored(body["access_token"])
        assert (token.expires - token.created).total_seconds() == pytest.approx(900, abs=2)
        # The client's own lifetime still wins over the deployment's.
        response = token_request(
            client, TOKEN_PATHS["foo.com"], {"grant_type": "client_credentials"}, world.short
        )
        assert json.loads(response.content)["expires_in"] == 120


class TestAudience:
    """docs/clients-and-grants.md: the ``resource`` asked for (RFC 8707), else the client's ``audiences``."""

    @pytest.mark.parametrize(
        ("credentials", "resource", "audience"),
        [
            ("api", None, ["https://api.example", "https://other.example"]),
            ("api", ["https://api.example"], ["https://api.example"]),
            ("demo", None, []),
            (
                "demo",
                ["https://api.example", "https://b.example"],
                ["https://api.example", "https://b.example"],
            ),
        ],
    )
    def test_audience(self, client, world, credentials, resource, audience):
        data = {"grant_type": "client_credentials"}
        if resource:
            data["resource"] = resource
        auth = world.api if credentials == "api" else (DEMO_ID, DEMO_SECRET)
        response = token_request(client, TOKEN_PATHS["foo.com"], data, auth)
        assert response.status_code == 200, response.content
        assert stored(json.loads(response.content)["access_token"]).resource == audience

    @pytest.mark.parametrize(
        "resource",
        [["https://elsewhere.example/x"], ["https://api.example", "https://elsewhere.example/x"]],
    )
    def test_a_client_with_audiences_asks_only_for_those(self, client, world, resource):
        """RFC 8707 §2: a resource outside the client's configured audiences is invalid_target
        (it was granted before: any client could name any resource)."""
        response = token_request(
            client,
            TOKEN_PATHS["foo.com"],
            {"grant_type": "client_credentials", "resource": resource},
            world.api,
        )
        assert error_of(response) == "invalid_target"
        assert b"elsewhere.example" in response.content

    @pytest.mark.parametrize("resource", ["not a uri", "/relative", "https://api.example/#fragment"])
    def test_resource_must_be_an_absolute_uri(self, client, world, resource):
        """Regression: this RFC 8707 error came as text/html without Cache-Control."""
        response = token_request(
            client,
            TOKEN_PATHS["foo.com"],
            {"grant_type": "client_credentials", "resource": resource},
            world.api,
        )
        assert error_of(response) == "invalid_target"

    @pytest.mark.parametrize(("resource", "error"), [(None, "invalid_target"), ("https://api.example", None)])
    def test_a_refresh_token_keeps_no_resource_its_client_lost(self, client, world, resource, error):
        """Regression: the audiences rule checked the resources a refresh request named, not
        those its refresh token carried over, so a refresh kept renewing tokens for an audience
        taken off the client's list. Naming a resource still allowed narrows to it (RFC 8707 §2.2)."""
        demo = world.foo.clients.filter(client_id=DEMO_ID)
        demo.update(audiences=["https://api.example", "https://b.example"])
        tokens = password_grant(client, resource=["https://api.example", "https://b.example"])
        demo.update(audiences=["https://api.example"])
        response = refresh(client, tokens["refresh_token"], **({"resource": resource} if resource else {}))
        if error:
            assert error_of(response) == error
            assert b"b.example" in response.content
        else:
            assert response.status_code == 200, response.content
            assert stored(json.loads(response.content)["access_token"]).resource == [resource]
