"""JWT access tokens (RFC 9068; docs/jwt.md) for clients with ``token_format = "jwt"``.

Every token is verified with jwcrypto against the tenant's JWKS as served, never with the
PyJWT that signed it.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from io import StringIO
from types import SimpleNamespace

import jwt
import pytest
from django.conf import settings
from django.core.management import call_command
from jwcrypto.common import JWKeyNotFound
from jwcrypto.jws import InvalidJWSSignature

from identity.bootstrap import bootstrap
from identity.models import SigningKey
from identity.provisioning import create_tenant, create_user
from identity.signing import rotate
from tenants.models import Tenant
from tests.support.auth import basic_auth
from tests.support.jwt import (
    ACCESS_TOKEN_TYP,
    SUPER,
    introspect,
    issuer_of,
    json_of,
    jwt_client,
    verify,
)
from tests.support.oauth import DEMO, issue, revoke, stored

pytestmark = pytest.mark.django_db

API_AUDIENCES = ["https://api.example", "https://other.example"]
PROXY = "10.0.0.5"
ADMIN = basic_auth("admin@foo.com", "admin")  # holds /permission/admin: may introspect foo.com's tokens


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        bootstrap()
        super_tenant = Tenant.objects.get(domain=SUPER)
        foo = Tenant.objects.get(domain="foo.com")
        create_user(foo, "alice", "alice-pw")
        es = create_tenant("es.example", admin_username="admin", admin_password="es-admin")
        rotate(es, "ES256")
        world = SimpleNamespace(
            foo=foo,
            es=es,
            app=jwt_client(
                foo,
                "jwt-app",
                grant_types=["client_credentials", "password", "refresh_token"],
                scopes=["test1", "test2"],
            ),
            api=jwt_client(foo, "jwt-api", audiences=API_AUDIENCES),
            one=jwt_client(foo, "jwt-one", audiences=["https://api.example"]),
            orphan=jwt_client(foo, "jwt-orphan"),
            short=jwt_client(foo, "jwt-short"),
            super=jwt_client(super_tenant, "jwt-super"),
            es256=jwt_client(es, "jwt-es"),
        )
        foo.clients.filter(client_id="jwt-short").update(access_token_lifetime=120)
        foo.clients.filter(client_id="jwt-orphan").update(user=None)
        return world

    return build_once(make)


def client_credentials(client, world_client, domain="foo.com", **data) -> tuple[dict, str]:
    """Return (token response, access token) of a client_credentials grant."""
    body = issue(client, domain, {"grant_type": "client_credentials", **data}, world_client)
    return body, body["access_token"]


class TestTheJws:
    """RFC 9068 §2.1: a JWS with typ at+jwt, signed with the tenant's current key."""

    def test_header_and_signature(self, client, world):
        _, token = client_credentials(client, world.app)
        verified = verify(client, "foo.com", token, ACCESS_TOKEN_TYP)
        key = SigningKey.objects.for_tenant(world.foo).get(active=True)
        assert verified.header == {"typ": "at+jwt", "alg": "RS256", "kid": key.kid}

    def test_signed_with_its_own_tenants_key_only(self, client, world):
        _, token = client_credentials(client, world.app)
        with pytest.raises((JWKeyNotFound, InvalidJWSSignature)):
            verify(client, SUPER, token, ACCESS_TOKEN_TYP)

    def test_es256_tenant(self, client, world):
        _, token = client_credentials(client, world.es256, domain="es.example")
        verified = verify(client, "es.example", token, ACCESS_TOKEN_TYP)
        key = SigningKey.objects.for_tenant(world.es).get(active=True)
        assert verified.header == {"typ": "at+jwt", "alg": "ES256", "kid": key.kid}
        assert verified.claims["iss"] == issuer_of("es.example")

    def test_opaque_clients_keep_opaque_tokens(self, client, world):
        _, token = client_credentials(client, DEMO)
        assert "." not in token
        assert len(token) == 30


class TestClaims:
    """RFC 9068 §2.2: iss, sub, aud, client_id, iat, exp, jti, scope."""

    def test_client_credentials(self, client, world):
        before = int(time.time())
        body, token = client_credentials(client, world.app, scope="test1 test2")
        after = int(time.time())
        claims = verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        assert set(claims) == {"iss", "sub", "aud", "client_id", "iat", "exp", "jti", "scope"}
        assert claims["iss"] == issuer_of("foo.com")
        # an app token's subject is the client (docs/introspection.md#the-subject-identifier)
        assert claims["sub"] == "jwt-app"
        assert claims["aud"] == "jwt-app"  # no resource, no configured audience: the client id
        assert claims["client_id"] == "jwt-app"
        assert before <= claims["iat"] <= after
        assert claims["exp"] == claims["iat"] + body["expires_in"] == claims["iat"] + 3600
        assert uuid.UUID(claims["jti"])
        assert claims["scope"] == "test1 test2"  # one space-separated string (RFC 9068 §2.2.3)
        assert body["scope"] == "test1 test2"

    def test_no_scope_asked_no_scope_claim(self, client, world):
        body, token = client_credentials(client, world.app)
        assert "scope" not in verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        assert "scope" not in body

    def test_super_tenant_issuer(self, client, world):
        _, token = client_credentials(client, world.super, domain=SUPER)
        assert verify(client, SUPER, token, ACCESS_TOKEN_TYP).claims["iss"] == issuer_of(SUPER)

    @pytest.mark.parametrize(
        ("peer", "expected"), [(PROXY, "https://id.example/t/foo.com"), ("10.0.0.9", None)]
    )
    def test_issuer_is_the_one_discovery_names(self, client, world, deployment_override, peer, expected):
        """Regression: behind a trusted proxy discovery named the forwarded host as the issuer
        and JWT access tokens the configured one, so a resource server comparing ``iss`` with
        the metadata's issuer (RFC 9068 §4, RFC 8414 §3.3) refused every token. An untrusted
        peer's forwarded host changes neither."""
        server = dataclasses.replace(settings.DEPLOYMENT.server, trusted_proxies=[PROXY])
        deployment_override(server=server)
        forwarded = {"X-Forwarded-Host": "id.example", "X-Forwarded-Proto": "https"}
        metadata = client.get(
            "/t/foo.com/.well-known/openid-configuration", secure=True, headers=forwarded, REMOTE_ADDR=peer
        )
        response = client.post(
            "/t/foo.com/oauth2/token",
            {"grant_type": "client_credentials"},
            secure=True,
            headers={**forwarded, **basic_auth(*world.app)},
            REMOTE_ADDR=peer,
        )
        claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
        assert claims["iss"] == metadata.json()["issuer"] == (expected or issuer_of("foo.com"))

    def test_lifetime_is_the_clients(self, client, world):
        body, token = client_credentials(client, world.short)
        claims = verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        assert body["expires_in"] == 120
        assert claims["exp"] - claims["iat"] == 120

    def test_each_token_has_its_own_jti(self, client, world):
        jtis = {
            verify(client, "foo.com", client_credentials(client, world.app)[1], ACCESS_TOKEN_TYP).claims[
                "jti"
            ]
            for _ in range(3)
        }
        assert len(jtis) == 3

    @pytest.mark.parametrize(
        ("who", "resources", "aud"),
        [
            # RFC 8707 resource indicators win over the client's configured audiences ...
            ("app", ["https://rs.example"], "https://rs.example"),
            (
                "app",
                ["https://rs.example", "https://rs2.example"],
                ["https://rs.example", "https://rs2.example"],
            ),
            ("api", ["https://other.example"], "https://other.example"),
            # ... which win over the client id (RFC 9068 requires an aud, docs/clients-and-grants.md).
            ("api", [], API_AUDIENCES),
            ("one", [], "https://api.example"),
            ("app", [], "jwt-app"),
        ],
    )
    def test_audience(self, client, world, who, resources, aud):
        data = {"resource": resources} if resources else {}
        _, token = client_credentials(client, getattr(world, who), **data)
        assert verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims["aud"] == aud
        assert stored(token).resource == (aud if isinstance(aud, list) else [aud])

    def test_app_token_without_owner(self, client, world):
        _, token = client_credentials(client, world.orphan)
        claims = verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        assert claims["sub"] == "jwt-orphan"

    @pytest.mark.parametrize(
        ("subject_format", "use_tenant_domain", "sub"),
        [
            ("fqn", False, "alice@foo.com"),
            ("app_configured", False, "alice"),
            ("app_configured", True, "alice@foo.com"),
        ],
    )
    def test_password_grant_subject(
        self, client, world, deployment_override, subject_format, use_tenant_domain, sub
    ):
        """The subject as introspection names it too (docs/introspection.md#the-subject-identifier)."""
        oauth = settings.DEPLOYMENT.oauth
        deployment_override(
            oauth=dataclasses.replace(oauth, validation_response_subject_identifier_format=subject_format)
        )
        world.foo.clients.filter(client_id="jwt-app").update(
            use_tenant_domain_in_local_subject_identifier=use_tenant_domain
        )
        body = issue(
            client,
            "foo.com",
            {"grant_type": "password", "username": "alice", "password": "alice-pw", "scope": "test1"},
            world.app,
        )
        claims = verify(client, "foo.com", body["access_token"], ACCESS_TOKEN_TYP).claims
        assert claims["sub"] == sub
        assert claims["client_id"] == "jwt-app"
        assert claims["scope"] == "test1"
        introspected = json_of(introspect(client, "foo.com", {"token": body["access_token"]}, ADMIN))
        assert introspected["sub"] == introspected["username"] == sub


class TestRecorded:
    """The row records the JWT (by digest) and says what its claims say."""

    def test_row_matches_claims(self, client, world):
        _, token = client_credentials(client, world.api)
        claims = verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        row = stored(token)
        assert str(row.jti) == claims["jti"]
        assert int(row.created.timestamp()) == claims["iat"]
        assert int(row.expires.timestamp()) == claims["exp"]
        assert row.resource == API_AUDIENCES == claims["aud"]
        assert row.token == ""  # only its digest is stored (docs/clients-and-grants.md)

    def test_introspection_agrees_with_the_jwt(self, client, world):
        _, token = client_credentials(client, world.app, scope="test2", resource="https://rs.example")
        claims = verify(client, "foo.com", token, ACCESS_TOKEN_TYP).claims
        body = json_of(introspect(client, "foo.com", {"token": token}, ADMIN))
        assert body["active"] is True
        for claim in ("jti", "iat", "exp", "aud", "iss", "client_id", "sub", "scope"):
            assert body[claim] == claims[claim], claim
        assert body["token_type"] == "Bearer"
        # an app token acts as the client's owner (docs/clients-and-grants.md)
        assert body["username"] == "admin@foo.com"

    def test_a_tampered_jwt_is_not_active(self, client, world):
        _, token = client_credentials(client, world.app)
        header, payload, signature = token.split(".")
        tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
        assert json_of(introspect(client, "foo.com", {"token": tampered}, ADMIN)) == {"active": False}


class TestRevocation:
    """RFC 7009 revokes a JWT access token like an opaque one: inactive at once."""

    @pytest.mark.parametrize("hint", ["", "access_token", "refresh_token"])
    def test_revoked_jwt_is_inactive(self, client, world, hint):
        _, token = client_credentials(client, world.app)
        assert json_of(introspect(client, "foo.com", {"token": token}, ADMIN))["active"] is True
        extra = {"token_type_hint": hint} if hint else {}
        assert revoke(client, token, world.app, **extra).status_code == 200
        assert json_of(introspect(client, "foo.com", {"token": token}, ADMIN)) == {"active": False}

    def test_another_client_cannot_revoke_it(self, client, world):
        _, token = client_credentials(client, world.app)
        assert revoke(client, token, DEMO).status_code == 200  # RFC 7009 §2.2: no tell
        assert json_of(introspect(client, "foo.com", {"token": token}, ADMIN))["active"] is True


class TestRefreshTokens:
    """Refresh tokens stay opaque; a refresh gives a new JWT access token."""

    def password_grant(self, client, world) -> dict:
        data = {"grant_type": "password", "username": "alice", "password": "alice-pw", "scope": "test1"}
        return issue(client, "foo.com", data, world.app)

    def test_refresh_token_is_opaque(self, client, world):
        body = self.password_grant(client, world)
        verify(client, "foo.com", body["access_token"], ACCESS_TOKEN_TYP)
        assert "." not in body["refresh_token"]
        assert len(body["refresh_token"]) == 30
        refresh = json_of(introspect(client, "foo.com", {"token": body["refresh_token"]}, ADMIN))
        assert refresh["active"] is True
        assert refresh["token_type"] == "Refresh"

    def test_refresh_gives_a_new_jwt(self, client, world):
        first = self.password_grant(client, world)
        second = issue(
            client,
            "foo.com",
            {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            world.app,
        )
        old = verify(client, "foo.com", first["access_token"], ACCESS_TOKEN_TYP).claims
        new = verify(client, "foo.com", second["access_token"], ACCESS_TOKEN_TYP).claims
        assert new["jti"] != old["jti"]
        assert (new["sub"], new["scope"], new["client_id"]) == ("alice@foo.com", "test1", "jwt-app")
        assert "." not in second["refresh_token"]
        assert json_of(introspect(client, "foo.com", {"token": second["access_token"]}, ADMIN))["active"]

    def test_password_grant_of_an_opaque_client_issues_a_refresh_token(self, client, world):
        """Regression: oauthlib called the refresh token generator with the request, and
        ``generate_token(request)`` answered every refresh-token-issuing grant with a 500."""
        data = {"grant_type": "password", "username": "admin", "password": "admin"}
        body = issue(client, "foo.com", data, DEMO)
        assert len(body["access_token"]) == len(body["refresh_token"]) == 30


class TestKeyRotation:
    """After ``rotatekeys`` new JWTs carry the new kid; the JWKS verifies old and new."""

    def test_rotatekeys(self, client, world):
        _, old_token = client_credentials(client, world.app)
        old_kid = verify(client, "foo.com", old_token, ACCESS_TOKEN_TYP).header["kid"]
        out = StringIO()
        call_command("rotatekeys", "--tenant", "foo.com", stdout=out)
        new_key = SigningKey.objects.for_tenant(world.foo).get(active=True)
        assert new_key.kid in out.getvalue()
        _, new_token = client_credentials(client, world.app)
        new = verify(client, "foo.com", new_token, ACCESS_TOKEN_TYP)
        assert new.header["kid"] == new_key.kid != old_kid
        # The old token still verifies: its key stays in the JWKS until its tokens expire.
        assert verify(client, "foo.com", old_token, ACCESS_TOKEN_TYP).header["kid"] == old_kid
        for token in (old_token, new_token):
            assert json_of(introspect(client, "foo.com", {"token": token}, ADMIN))["active"] is True

    def test_rotate_to_es256(self, client, world):
        call_command("rotatekeys", "--tenant", "foo.com", "--algorithm", "ES256", stdout=StringIO())
        _, token = client_credentials(client, world.app)
        assert verify(client, "foo.com", token, ACCESS_TOKEN_TYP).header["alg"] == "ES256"
