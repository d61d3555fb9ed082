"""The introspection endpoint's requests and responses (docs/introspection.md#the-request,
docs/introspection.md#responses; RFC 7662)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from types import SimpleNamespace

import pytest
from django.conf import settings

from identity.models import AccessToken, RefreshToken
from identity.models.tokens import token_checksum
from tenants.models import Tenant
from tests.support.auth import basic
from tests.support.introspection import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENDPOINT,
    FOO,
    SUPER,
    TOKEN_ENDPOINT,
    make_refresh_token,
    make_token,
)
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db

ADMIN = basic("admin", "admin")
FOO_ADMIN = basic("admin@foo.com", "admin")
SERVER = settings.DEPLOYMENT.server
ISSUER = {
    SUPER: f"https://{SERVER.hostname}:{SERVER.port}",
    FOO: f"https://{SERVER.hostname}:{SERVER.port}/t/foo.com",
}
INACTIVE = {"active": False}


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        client, foo_client = world.clients[SUPER], world.clients[FOO]
        admin = world.users[SUPER]["admin"]
        world.tokens = SimpleNamespace(
            app=make_token(client),
            scoped=make_token(client, scope="test1 test2"),
            password=make_token(client, user=admin, grant_type="password", scope="test1"),
            expired=make_token(client, expires_in=-1),
            revoked=make_token(client, revoked=True),
            foo=make_token(foo_client, scope="test1"),
            one_audience=make_token(client, resource=("https://api.example.com",)),
            two_audiences=make_token(client, resource=("https://a.example.com", "https://b.example.com")),
            refresh=make_refresh_token(client, admin, scope="test1 test2"),
            expired_refresh=make_refresh_token(client, admin, expires_in=-1),
            foo_refresh=make_refresh_token(foo_client, world.users[FOO]["admin"]),
        )
        return world

    return build_once(make)


def introspect(client, *, path=ENDPOINT[SUPER], method="post", auth=ADMIN, **params):
    """Send an introspection request; ``params`` go in the form (POST) or the query (others)."""
    headers = {"Authorization": auth} if auth else {}
    if method == "post":
        return client.post(path, params, secure=True, headers=headers)
    if method == "get":
        return client.get(path, params, secure=True, headers=headers)
    return client.generic(method.upper(), path, secure=True, headers=headers)


def body(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def row(raw: str) -> AccessToken | RefreshToken:
    checksum = token_checksum(raw)
    found = AccessToken.objects.all_tenants().filter(token_checksum=checksum).first()
    return found or RefreshToken.objects.all_tenants().get(token_checksum=checksum)


def get_allowed(allowed: bool):
    """The deployment_override sections for ``[oauth.introspect] allow_get``."""
    oauth = settings.DEPLOYMENT.oauth
    return {
        "oauth": dataclasses.replace(
            oauth, introspect=dataclasses.replace(oauth.introspect, allow_get=allowed)
        )
    }


class TestRequestForms:
    """docs/introspection.md#the-request: a POST form, or (unless allow_get = false) a GET with the same
    query parameters."""

    @pytest.mark.parametrize("method", ["post", "get"])
    def test_both_forms_answer_alike(self, client, world, method):
        response = introspect(client, method=method, token=world.tokens.scoped)
        assert response.status_code == 200
        assert body(response)["scope"] == "test1 test2"

    @pytest.mark.parametrize("method", ["post", "get"])
    def test_both_forms_take_token_type_hint(self, client, world, method):
        response = introspect(
            client, method=method, token=world.tokens.refresh, token_type_hint="refresh_token"
        )
        assert body(response)["token_type"] == "Refresh"

    def test_get_refused_when_allow_get_is_false(self, client, world, deployment_override):
        deployment_override(**get_allowed(False))
        response = introspect(client, method="get", token=world.tokens.app)
        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert "active" not in body(response)
        assert introspect(client, token=world.tokens.app).status_code == 200

    @pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
    @pytest.mark.parametrize("allow_get", [True, False])
    def test_other_methods_are_405(self, client, world, deployment_override, method, allow_get):
        deployment_override(**get_allowed(allow_get))
        response = introspect(client, method=method)
        assert response.status_code == 405
        assert response["Allow"] == ("GET, POST" if allow_get else "POST")
        # Regression: a PUT was told "use POST ([oauth.introspect] allow_get = false)" while GET worked.
        described = "use GET or POST" if allow_get else "use POST ([oauth.introspect] allow_get = false)"
        assert body(response) == {"error": "invalid_request", "error_description": described}

    def test_405_comes_before_authentication(self, client, world):
        """A wrong method is wrong whoever asks: no credential is even looked at."""
        assert introspect(client, method="put", auth=None).status_code == 405

    def test_post_reads_the_form_not_the_query(self, client, world):
        response = client.post(
            ENDPOINT[SUPER] + f"?token={world.tokens.app}", {}, secure=True, headers={"Authorization": ADMIN}
        )
        assert response.status_code == 400
        assert body(response) == {"error": "Invalid input"}

    @pytest.mark.parametrize("method", ["post", "get"])
    def test_too_many_parameters_is_a_json_400(self, client, world, method):
        """Regression: Django's HTML 400 page answered a request it refused to parse."""
        params = {
            "token": world.tokens.app,
            **{f"p{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)},
        }
        response = introspect(client, method=method, **params)
        assert response.status_code == 400
        assert body(response)["error"] == "invalid_request"
        assert response["Cache-Control"] == "no-store"

    def test_too_many_query_parameters_on_a_post(self, client, world):
        query = "&".join(f"p{n}=x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
        response = client.post(
            f"{ENDPOINT[SUPER]}?{query}",
            {"token": world.tokens.app},
            secure=True,
            headers={"Authorization": ADMIN},
        )
        assert response.status_code == 400
        assert body(response)["error"] == "invalid_request"

    def test_too_large_a_body_is_a_json_400(self, client, world, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
        response = introspect(client, token="x" * 2000)
        assert response.status_code == 400
        assert body(response)["error"] == "invalid_request"


class TestTokenTypeHint:
    """RFC 7662 §2.1: the hint only orders the search; a wrong or unknown one still finds the token."""

    @pytest.mark.parametrize("hint", [None, "", "access_token", "refresh_token", "id_token", "nonsense"])
    def test_access_token_found_whatever_the_hint(self, client, world, hint):
        params = {} if hint is None else {"token_type_hint": hint}
        claims = body(introspect(client, token=world.tokens.scoped, **params))
        assert claims["active"] is True
        assert claims["token_type"] == "Bearer"

    @pytest.mark.parametrize("hint", [None, "", "access_token", "refresh_token", "nonsense"])
    def test_refresh_token_found_whatever_the_hint(self, client, world, hint):
        params = {} if hint is None else {"token_type_hint": hint}
        claims = body(introspect(client, token=world.tokens.refresh, **params))
        assert claims["active"] is True
        assert claims["token_type"] == "Refresh"

    @pytest.mark.parametrize("hint", ["access_token", "refresh_token"])
    def test_unknown_token_is_inactive_whatever_the_hint(self, client, world, hint):
        assert body(introspect(client, token="no-such-token", token_type_hint=hint)) == INACTIVE


class TestInvalidInput:
    """docs/introspection.md#the-request: a missing or empty ``token`` from an authorized caller is the
    WSO2 document's 400."""

    @pytest.mark.parametrize("method", ["post", "get"])
    @pytest.mark.parametrize("params", [{}, {"token": ""}, {"token_type_hint": "access_token"}])
    def test_missing_or_empty_token_is_400(self, client, world, method, params):
        response = introspect(client, method=method, **params)
        assert response.status_code == 400
        assert body(response) == {"error": "Invalid input"}
        assert response["Cache-Control"] == "no-store"

    @pytest.mark.parametrize("auth", [None, basic("admin", "wrong"), "Bearer nothing"])
    @pytest.mark.parametrize("params", [{}, {"token": ""}])
    def test_unauthenticated_caller_gets_401_not_400(self, client, world, auth, params):
        """Who asks is settled first: the 400 tells only an authorized caller about its input."""
        response = introspect(client, auth=auth, **params)
        assert response.status_code == 401
        assert "WWW-Authenticate" in response

    @pytest.mark.parametrize("params", [{}, {"token": ""}])
    def test_with_skip_authorization_anyone_gets_400(self, client, world, deployment_override, params):
        """With ``skip_authorization`` a caller without credentials is authorized: its input is
        answered (and a wrong credential still is not)."""
        oauth = settings.DEPLOYMENT.oauth
        introspect_section = dataclasses.replace(oauth.introspect, skip_authorization=True)
        deployment_override(oauth=dataclasses.replace(oauth, introspect=introspect_section))
        response = introspect(client, auth=None, **params)
        assert (response.status_code, body(response)) == (400, {"error": "Invalid input"})
        assert introspect(client, auth=basic("admin", "wrong"), **params).status_code == 401

    def test_unpermitted_caller_gets_403_not_400(self, client, world):
        response = introspect(client, auth=basic("nobody", "nobody-pw"), token="")
        assert response.status_code == 403


class TestInactive:
    """docs/introspection.md#responses: inactive for any reason is exactly ``{"active": false}``, with
    status 200."""

    @pytest.mark.parametrize(
        "token",
        [
            "fbc4e794-23db-3394-b1e5-f2c3e511d01f",  # the WSO2 document's sample: unknown here
            "x",
            "a" * 10_000,
            " ",
            "not a token\x00at all",
            "ünïcødé-🔑",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",  # JWT-shaped, unknown
            "%ZZ%00",
        ],
    )
    def test_unknown_or_malformed(self, client, world, token):
        response = introspect(client, token=token)
        assert response.status_code == 200
        assert body(response) == INACTIVE

    @pytest.mark.parametrize("name", ["expired", "revoked", "expired_refresh"])
    def test_expired_or_revoked(self, client, world, name):
        assert body(introspect(client, token=getattr(world.tokens, name))) == INACTIVE

    @pytest.mark.parametrize("name", ["foo", "foo_refresh"])
    def test_other_tenants_token_at_the_super_tenant(self, client, world, name):
        """Gate 3, for access and refresh tokens alike (WSO2 forgets refresh tokens)."""
        assert body(introspect(client, token=getattr(world.tokens, name))) == INACTIVE

    @pytest.mark.parametrize("name", ["app", "refresh"])
    def test_super_tenant_token_at_another_tenant(self, client, world, name):
        token = getattr(world.tokens, name)
        assert body(introspect(client, path=ENDPOINT[FOO], auth=FOO_ADMIN, token=token)) == INACTIVE

    def test_token_of_a_deactivated_tenant(self, client, world, deployment_override):
        """Regression: with allow_cross_tenant, a deactivated tenant's tokens were reported active."""
        oauth = settings.DEPLOYMENT.oauth
        introspect_config = dataclasses.replace(oauth.introspect, allow_cross_tenant=True)
        deployment_override(oauth=dataclasses.replace(oauth, introspect=introspect_config))
        assert body(introspect(client, token=world.tokens.foo))["active"] is True
        foo = Tenant.objects.get(pk=world.tenants[FOO].pk)
        foo.active = False
        foo.save()
        assert body(introspect(client, token=world.tokens.foo)) == INACTIVE
        assert body(introspect(client, token=world.tokens.foo_refresh)) == INACTIVE


class TestActive:
    """docs/introspection.md#responses: exactly the facts the token has, never a null."""

    BASE_KEYS = {"active", "token_type", "client_id", "exp", "iat", "nbf", "username", "sub", "iss", "jti"}

    def test_app_token_without_scope(self, client, world):
        claims = body(introspect(client, token=world.tokens.app))
        token = row(world.tokens.app)
        assert claims == {
            "active": True,
            "token_type": "Bearer",
            "client_id": CLIENT_ID,
            "exp": int(token.expires.timestamp()),
            "iat": int(token.created.timestamp()),
            "nbf": int(token.created.timestamp()),
            "username": "admin@carbon.super",
            "sub": CLIENT_ID,
            "iss": ISSUER[SUPER],
            "jti": str(token.jti),
        }

    def test_scope_is_space_separated_and_only_when_there_is_one(self, client, world):
        claims = body(introspect(client, token=world.tokens.scoped))
        assert set(claims) == self.BASE_KEYS | {"scope"}
        assert claims["scope"] == "test1 test2"
        assert "scope" not in body(introspect(client, token=world.tokens.app))

    def test_password_grant_token(self, client, world):
        claims = body(introspect(client, token=world.tokens.password))
        assert set(claims) == self.BASE_KEYS | {"scope"}
        assert claims["username"] == claims["sub"] == "admin@carbon.super"

    def test_numbers_are_integer_seconds(self, client, world):
        claims = body(introspect(client, token=world.tokens.scoped))
        for key in ("exp", "iat", "nbf"):
            assert type(claims[key]) is int
        assert claims["exp"] - claims["iat"] == 3600
        assert claims["nbf"] == claims["iat"]

    def test_jti_is_the_rows_uuid(self, client, world):
        claims = body(introspect(client, token=world.tokens.scoped))
        assert uuid.UUID(claims["jti"]) == row(world.tokens.scoped).jti

    def test_one_audience_is_a_string(self, client, world):
        claims = body(introspect(client, token=world.tokens.one_audience))
        assert claims["aud"] == "https://api.example.com"
        assert set(claims) == self.BASE_KEYS | {"aud"}

    def test_several_audiences_are_a_list(self, client, world):
        claims = body(introspect(client, token=world.tokens.two_audiences))
        assert claims["aud"] == ["https://a.example.com", "https://b.example.com"]

    def test_no_audience_is_no_claim(self, client, world):
        assert "aud" not in body(introspect(client, token=world.tokens.app))

    def test_tenant_token_at_its_tenant(self, client, world):
        claims = body(introspect(client, path=ENDPOINT[FOO], auth=FOO_ADMIN, token=world.tokens.foo))
        assert claims["iss"] == ISSUER[FOO]
        assert claims["username"] == "admin@foo.com"
        assert claims["client_id"] == CLIENT_ID
        assert claims["scope"] == "test1"

    def test_refresh_token(self, client, world):
        claims = body(introspect(client, token=world.tokens.refresh))
        token = row(world.tokens.refresh)
        assert claims == {
            "active": True,
            "token_type": "Refresh",
            "client_id": CLIENT_ID,
            "scope": "test1 test2",
            "exp": int(token.expires.timestamp()),
            "iat": int(token.created.timestamp()),
            "nbf": int(token.created.timestamp()),
            "username": "admin@carbon.super",
            "sub": "admin@carbon.super",
            "iss": ISSUER[SUPER],
            "jti": str(token.jti),
        }

    def test_app_token_of_a_client_without_owner(self, client, world):
        """No user: no ``username``, never ``"username": null``; ``sub`` is still the client."""
        token = make_token(world.clients[SUPER], user=None)
        claims = body(introspect(client, token=token))
        assert "username" not in claims
        assert claims["sub"] == CLIENT_ID

    @pytest.mark.parametrize("name", ["app", "scoped", "password", "one_audience", "refresh"])
    def test_no_null_and_no_empty_values(self, client, world, name):
        claims = body(introspect(client, token=getattr(world.tokens, name)))
        assert all(value not in (None, "", []) for value in claims.values())


class TestHeaders:
    """docs/introspection.md#responses and RFC 7662 §2.2: JSON, never cached, whatever the answer."""

    @pytest.mark.parametrize(
        ("params", "auth", "method", "status"),
        [
            ({"token": "app"}, ADMIN, "post", 200),
            ({"token": "unknown"}, ADMIN, "post", 200),
            ({"token": ""}, ADMIN, "post", 400),
            ({"token": "app"}, None, "post", 401),
            ({"token": "app"}, basic("nobody", "nobody-pw"), "post", 403),
            ({}, ADMIN, "put", 405),
        ],
    )
    def test_json_and_no_store(self, client, world, params, auth, method, status):
        params = {key: getattr(world.tokens, value, value) for key, value in params.items()}
        response = introspect(client, method=method, auth=auth, **params)
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert response["Cache-Control"] == "no-store"


def token_request(client, domain=SUPER, **form) -> dict:
    response = client.post(
        TOKEN_ENDPOINT[domain], form, secure=True, headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)}
    )
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def revoke(client, token: str, domain=SUPER, **form) -> None:
    path = TOKEN_ENDPOINT[domain].replace("token", "revoke")
    response = client.post(
        path,
        {"token": token, **form},
        secure=True,
        headers={"Authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )
    assert response.status_code == 200, response.content


class TestTokensFromTheTokenEndpoint:
    """Tokens as clients get them (docs/clients-and-grants.md), introspected; a revocation counts at once."""

    def test_client_credentials_token_with_scopes(self, client, world):
        issued = token_request(client, grant_type="client_credentials", scope="test1 test2")
        claims = body(introspect(client, token=issued["access_token"]))
        assert claims["scope"] == "test1 test2"
        assert claims["exp"] - claims["iat"] == issued["expires_in"]
        assert (claims["username"], claims["sub"]) == ("admin@carbon.super", CLIENT_ID)

    def test_password_grant_and_its_refresh_token(self, client, world):
        issued = token_request(
            client, grant_type="password", username="viewer", password="viewer-pw", scope="test1"
        )
        access = body(introspect(client, token=issued["access_token"]))
        refresh = body(introspect(client, token=issued["refresh_token"]))
        assert (access["token_type"], refresh["token_type"]) == ("Bearer", "Refresh")
        assert access["username"] == access["sub"] == refresh["username"] == "viewer@carbon.super"
        assert refresh["scope"] == access["scope"] == "test1"

    def test_tenant_token(self, client, world):
        issued = token_request(client, FOO, grant_type="client_credentials")
        claims = body(introspect(client, path=ENDPOINT[FOO], auth=FOO_ADMIN, token=issued["access_token"]))
        assert (claims["username"], claims["iss"]) == ("admin@foo.com", ISSUER[FOO])

    def test_revoked_access_token_is_inactive_at_once(self, client, world):
        token = token_request(client, grant_type="client_credentials")["access_token"]
        assert body(introspect(client, token=token))["active"] is True
        revoke(client, token)
        assert body(introspect(client, token=token)) == INACTIVE

    def test_revoked_refresh_token_takes_its_access_token_along(self, client, world):
        """RFC 7009 §2.1: revoking a refresh token revokes the access tokens of its grant
        (docs/clients-and-grants.md)."""
        issued = token_request(client, grant_type="password", username="admin", password="admin")
        revoke(client, issued["refresh_token"], token_type_hint="refresh_token")
        assert body(introspect(client, token=issued["refresh_token"])) == INACTIVE
        assert body(introspect(client, token=issued["access_token"])) == INACTIVE

    def test_rotated_refresh_token_is_inactive(self, client, world):
        issued = token_request(client, grant_type="password", username="admin", password="admin")
        token_request(client, grant_type="refresh_token", refresh_token=issued["refresh_token"])
        assert body(introspect(client, token=issued["refresh_token"])) == INACTIVE

    def test_revoked_in_the_model_is_inactive_at_once(self, client, world):
        token = make_token(world.clients[SUPER])
        assert body(introspect(client, token=token))["active"] is True
        row(token).revoke()
        assert body(introspect(client, token=token)) == INACTIVE
