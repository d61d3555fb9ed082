"""Discovery (RFC 8414, ``openid-configuration``) and the JWKS (RFC 7517) of a tenant
(docs/architecture.md, docs/clients-and-grants.md)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from jwcrypto.jwk import JWK

from identity import signing
from identity.models import SigningKey
from identity.provisioning import create_tenant
from identity.signing import current_key
from tenants.models import Tenant
from tests.support.introspection import configured
from tests.support.worlds import oauth_world

pytestmark = pytest.mark.django_db

# With the shipped deployment.toml: [server] hostname "localhost", port 9443, tls (docs/architecture.md).
ISSUERS = {"carbon.super": "https://localhost:9443", "foo.com": "https://localhost:9443/t/foo.com"}
METADATA_PATHS = {
    "carbon.super": ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"],
    "foo.com": [
        "/t/foo.com/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/foo.com",  # RFC 8414 §3
    ],
}
DOCUMENTS = [(tenant, path) for tenant, paths in METADATA_PATHS.items() for path in paths]
JWKS_PATHS = {"carbon.super": "/oauth2/jwks", "foo.com": "/t/foo.com/oauth2/jwks"}


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = oauth_world()
        world.sleepy = Tenant.objects.create(domain="sleepy.org", active=False)
        return world

    return build_once(make)


def rotatekeys(*args: str) -> str:
    out = io.StringIO()
    call_command("rotatekeys", *args, stdout=out)
    return out.getvalue()


def get_json(client, path: str, status: int = 200) -> dict:
    response = client.get(path, secure=True)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def jwks(client, tenant: str) -> dict[str, dict]:
    """Return the tenant's published keys by kid."""
    return {key["kid"]: key for key in get_json(client, JWKS_PATHS[tenant])["keys"]}


class TestMetadata:
    """Both locations answer the same document, with the tenant's issuer and no empty lists."""

    @pytest.mark.parametrize(("tenant", "path"), DOCUMENTS)
    def test_issuer_and_endpoints(self, client, world, tenant, path):
        document = get_json(client, path)
        issuer = ISSUERS[tenant]
        assert document["issuer"] == issuer
        assert document["token_endpoint"] == issuer + "/oauth2/token"
        assert document["revocation_endpoint"] == issuer + "/oauth2/revoke"
        assert document["introspection_endpoint"] == issuer + "/oauth2/introspect"
        assert document["authorization_endpoint"] == issuer + "/oauth2/authorize"
        assert document["jwks_uri"] == issuer + "/oauth2/jwks"

    @pytest.mark.parametrize(("tenant", "path"), DOCUMENTS)
    def test_supported_values(self, client, world, tenant, path):
        document = get_json(client, path)
        assert set(document["grant_types_supported"]) == {
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
        }
        assert {"client_secret_basic", "client_secret_post"} <= set(
            document["token_endpoint_auth_methods_supported"]
        )
        assert document["code_challenge_methods_supported"] == ["S256"]
        assert document["introspection_endpoint_auth_methods_supported"]
        # RFC 9701 §7; the tenant's key is RS256. Regression: this key was missing.
        assert document["introspection_signing_alg_values_supported"] == ["RS256"]
        # The demo client's scopes (and, at foo.com, those of the test clients).
        assert {"test1", "test2"} <= set(document["scopes_supported"])
        # Decided with the security audit: internal scopes are for permission holders, not advertised.
        assert not [scope for scope in document["scopes_supported"] if scope.startswith("internal_")]

    @pytest.mark.parametrize(("tenant", "path"), DOCUMENTS)
    def test_no_empty_values(self, client, world, tenant, path):
        document = get_json(client, path)
        assert all(value not in ([], "", None, {}) for value in document.values())

    @pytest.mark.parametrize(
        ("host", "proto", "issuer"),
        [
            ("id.example", "https", "https://id.example/t/foo.com"),
            # a proxy that appends (Apache's mod_proxy): the last value is the proxy's own
            ("evil.example, id.example", "http, https", "https://id.example/t/foo.com"),
        ],
    )
    def test_behind_a_trusted_proxy_its_own_forwarded_values(
        self, client, world, deployment_override, host, proto, issuer
    ):
        """The forwarded values a trusted proxy adds are the last ones: earlier ones are what
        the client sent. Before, the first was taken, so behind a proxy that appends, any client
        chose the issuer and every endpoint URL of the metadata (``jwks_uri``...)."""
        server = dataclasses.replace(settings.DEPLOYMENT.server, trusted_proxies=("10.0.0.5",))
        deployment_override(server=server)
        response = client.get(
            "/t/foo.com/.well-known/openid-configuration",
            headers={"X-Forwarded-Host": host, "X-Forwarded-Proto": proto},
            REMOTE_ADDR="10.0.0.5",
        )
        assert response.json()["issuer"] == issuer
        assert response.json()["jwks_uri"] == f"{issuer}/oauth2/jwks"

    def test_both_locations_agree(self, client, world):
        for paths in METADATA_PATHS.values():
            first, second = (get_json(client, path) for path in paths)
            assert first == second

    # [[resource.access_control]] -> introspection_endpoint_auth_methods_supported at carbon.super, foo.com
    CLIENTS_ONLY = 'allowed_auth_handlers = "BasicClientAuthentication"'
    INTROSPECTION_AUTH_TABLE = [
        ("", ["basic", "bearer"], ["basic", "bearer"]),
        (
            f'context = "(.*)/oauth2/introspect"\n{CLIENTS_ONLY}',
            ["client_secret_basic"],
            ["client_secret_basic"],
        ),
        (
            'context = ".*"\nallowed_auth_handlers = ["OAuthAuthentication", "BasicClientAuthentication"]',
            ["bearer", "client_secret_basic"],
            ["bearer", "client_secret_basic"],
        ),
        (f'context = "/t/foo\\\\.com/.*"\n{CLIENTS_ONLY}', ["basic", "bearer"], ["client_secret_basic"]),
    ]

    @pytest.mark.parametrize(("entry", "carbon", "foo"), INTROSPECTION_AUTH_TABLE)
    def test_introspection_auth_methods_follow_access_control(
        self, client, world, deployment_override, entry, carbon, foo
    ):
        """The introspection endpoint's entry of ``[[resource.access_control]]`` decides which caller
        handlers the metadata names."""
        toml = f"[[resource.access_control]]\n{entry}\n" if entry else ""
        deployment_override(resource=configured(toml).resource)
        for (_, path), methods in zip(DOCUMENTS[::2], (carbon, foo), strict=True):
            assert get_json(client, path)["introspection_endpoint_auth_methods_supported"] == methods, path

    # [server] hostname, port, tls and [tenant] super_tenant_domain -> the issuer of each tenant.
    # The super tenant is at the root; a scheme's default port is left out of the URL.
    ISSUER_TABLE = [
        ("id.example", 8443, True, "carbon.super", "https://id.example:8443", "https://id.example:8443/t/foo.com"),
        ("id.example", 443, True, "carbon.super", "https://id.example", "https://id.example/t/foo.com"),
        ("id.example", 80, False, "carbon.super", "http://id.example", "http://id.example/t/foo.com"),
        ("id.example", 443, False, "carbon.super", "http://id.example:443", "http://id.example:443/t/foo.com"),
        ("localhost", 9443, True, "foo.com", "https://localhost:9443/t/carbon.super", "https://localhost:9443"),
    ]  # fmt: skip

    @pytest.mark.parametrize(("hostname", "port", "tls", "super_domain", "carbon", "foo"), ISSUER_TABLE)
    def test_issuer_comes_from_the_server_table(
        self, client, world, deployment_override, hostname, port, tls, super_domain, carbon, foo
    ):
        """Issuers (and so every endpoint URL) are built from ``[server]``, not from the request."""
        server = dataclasses.replace(settings.DEPLOYMENT.server, hostname=hostname, port=port, tls=tls)
        tenant = dataclasses.replace(settings.DEPLOYMENT.tenant, super_tenant_domain=super_domain)
        deployment_override(server=server, tenant=tenant)
        for domain, issuer in (("carbon.super", carbon), ("foo.com", foo)):
            prefix = "" if domain == super_domain else f"/t/{domain}"
            for path in (
                f"{prefix}/.well-known/openid-configuration",
                f"/.well-known/oauth-authorization-server{prefix}",
            ):
                document = get_json(client, path)
                assert document["issuer"] == issuer, path
                assert document["token_endpoint"] == issuer + "/oauth2/token", path

    def test_tenant_without_scopes_has_no_scopes_supported(self, client, world):
        """bar.com's one client allows no scope: the key is left out, not an empty list."""
        document = get_json(client, "/.well-known/oauth-authorization-server/t/bar.com")
        assert document["issuer"] == "https://localhost:9443/t/bar.com"
        assert "scopes_supported" not in document

    def test_signing_algorithm_follows_the_key(self, client, world):
        rotatekeys("--tenant", "foo.com", "--algorithm", "ES256")
        document = get_json(client, "/t/foo.com/.well-known/openid-configuration")
        assert document["introspection_signing_alg_values_supported"] == ["ES256"]

    @pytest.mark.parametrize(
        "path",
        [
            "/t/nope.com/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/t/nope.com",
            "/t/sleepy.org/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/t/sleepy.org",
            "/t/nope.com/oauth2/jwks",
        ],
    )
    def test_unknown_or_inactive_tenant_is_404_naming_it(self, client, world, path):
        """Regression: the RFC 8414 location answered a generic 404 that did not name the tenant."""
        body = get_json(client, path, status=404)
        assert body["tenant_domain"] in ("nope.com", "sleepy.org")
        assert body["tenant_domain"] in path


def rfc7638_thumbprint(jwk: dict) -> str:
    """RFC 7638 §3, by hand: the required members, sorted, no whitespace, SHA-256, base64url."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}[jwk["kty"]]
    members = ",".join(f'"{name}":"{jwk[name]}"' for name in required)
    digest = hashlib.sha256(("{" + members + "}").encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_with_jwks(client, tenant: str, token: str) -> dict:
    """Verify ``token`` as a resource server would: by its kid, with the published JWKS only."""
    header = jwt.get_unverified_header(token)
    published = jwks(client, tenant)[header["kid"]]
    public_key = jwt.PyJWK(published).key
    return jwt.decode(token, public_key, algorithms=[published["alg"]])


class TestJwks:
    """Each tenant publishes its own keys, with ``kid``, ``alg`` and ``use``."""

    @pytest.mark.parametrize("tenant", JWKS_PATHS)
    def test_lists_the_tenants_keys(self, client, world, tenant):
        published = jwks(client, tenant)
        own = SigningKey.objects.for_tenant(Tenant.objects.get(domain=tenant))
        assert set(published) == {key.kid for key in own}
        for key in published.values():
            assert (key["alg"], key["use"], key["kty"]) == ("RS256", "sig", "RSA")
            assert {"n", "e"} <= set(key)
            assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # public parts only

    def test_tenants_do_not_share_keys(self, client, world):
        assert not set(jwks(client, "carbon.super")) & set(jwks(client, "foo.com"))

    def test_is_cacheable(self, client, world):
        response = client.get(JWKS_PATHS["foo.com"], secure=True)
        assert "max-age" in response["Cache-Control"]

    def test_publishing_checks_no_private_key(self, client, world, monkeypatch):
        """Regression: every JWKS request, which anyone may send, loaded each published private
        key with OpenSSL's RSA key check (about 90 ms of CPU a key), so a trickle of requests
        kept the server's cores busy, and each rotation by a tenant admin added a key's worth."""
        rotatekeys("--tenant", "foo.com")
        checked = []
        load = serialization.load_pem_private_key

        def spy(data, password, **options):
            checked.append(not options.get("unsafe_skip_rsa_key_validation", False))
            return load(data, password, **options)

        monkeypatch.setattr(serialization, "load_pem_private_key", spy)
        assert len(jwks(client, "foo.com")) == 2
        assert checked == [False, False]

    @pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
    def test_kid_is_the_rfc7638_thumbprint(self, client, world, algorithm):
        rotatekeys("--tenant", "foo.com", "--algorithm", algorithm)
        for kid, key in jwks(client, "foo.com").items():
            assert kid == rfc7638_thumbprint(key)
            assert kid == JWK(**key).thumbprint()  # jwcrypto's, an independent implementation


class TestRotation:
    """``rotatekeys``: the new key signs at once; the old one stays published while tokens live."""

    def test_old_key_stays_published_and_the_new_one_signs(self, client, world):
        old = current_key(world.foo)
        old_token = signing.sign(world.foo, {"sub": "before"}, "JWT")
        rotatekeys("--tenant", "foo.com")
        new = current_key(world.foo)
        assert new.kid != old.kid
        assert new.algorithm == old.algorithm == "RS256"
        assert set(jwks(client, "foo.com")) == {old.kid, new.kid}

        new_token = signing.sign(world.foo, {"sub": "after"}, "JWT")
        assert jwt.get_unverified_header(new_token)["kid"] == new.kid
        # Both verify against the published set: nothing in flight breaks.
        assert verify_with_jwks(client, "foo.com", old_token) == {"sub": "before"}
        assert verify_with_jwks(client, "foo.com", new_token) == {"sub": "after"}
        # Only foo.com rotated.
        assert len(jwks(client, "carbon.super")) == 1

    def test_old_key_is_published_as_long_as_the_longest_token_lives(self, client, world):
        old = current_key(world.foo)
        rotatekeys("--tenant", "foo.com")
        old.refresh_from_db()
        assert not old.active
        # The longest access-token lifetime of foo.com: [oauth] access_token_validity (3600 s).
        remaining = (old.publish_until - timezone.now()).total_seconds()
        assert 3600 - 60 < remaining <= 3600

    def test_old_key_leaves_the_jwks_once_its_tokens_have_expired(self, client, world):
        old = current_key(world.foo)
        rotatekeys("--tenant", "foo.com")
        SigningKey.objects.for_tenant(world.foo).filter(pk=old.pk).update(
            publish_until=timezone.now() - timedelta(seconds=1)
        )
        assert old.kid not in jwks(client, "foo.com")
        assert list(jwks(client, "foo.com")) == [current_key(world.foo).kid]

    def test_es256(self, client, world):
        rotatekeys("--tenant", "foo.com", "--algorithm", "ES256")
        key = current_key(world.foo)
        assert key.algorithm == "ES256"
        published = jwks(client, "foo.com")[key.kid]
        assert (published["kty"], published["crv"], published["alg"], published["use"]) == (
            "EC",
            "P-256",
            "ES256",
            "sig",
        )
        token = signing.sign(world.foo, {"iat": int(time.time())}, "JWT")
        assert jwt.get_unverified_header(token)["alg"] == "ES256"
        assert "iat" in verify_with_jwks(client, "foo.com", token)
        # The next rotation keeps the algorithm unless told otherwise.
        rotatekeys("--tenant", "foo.com")
        assert current_key(world.foo).algorithm == "ES256"


class TestRotationLimit:
    """Regression: a tenant admin could rotate without limit, and each retired key stayed in the
    JWKS (which anyone may fetch) and in the keys table for the longest token lifetime: both
    grew with every rotation. Now a rotation that would publish more than ``[oauth]
    max_published_signing_keys`` keys (4) is refused, and none of the published keys goes, so
    no token in flight stops verifying."""

    def rotate_to_the_limit(self, tenant: Tenant) -> list[str]:
        """Rotate ``tenant``'s key until it publishes as many as allowed; return their kids, newest first."""
        for _ in range(settings.DEPLOYMENT.oauth.max_published_signing_keys - 1):
            rotatekeys("--tenant", tenant.domain)
        return list(SigningKey.objects.for_tenant(tenant).values_list("kid", flat=True))

    def test_the_default_limit_is_four(self, world):
        assert settings.DEPLOYMENT.oauth.max_published_signing_keys == 4

    def test_rotation_past_the_limit_is_refused_and_changes_nothing(self, client, world):
        first_token = signing.sign(world.foo, {"sub": "first"}, "JWT")
        kids = self.rotate_to_the_limit(world.foo)
        assert set(jwks(client, "foo.com")) == set(kids) and len(kids) == 4
        with pytest.raises(signing.KeyLimitReached) as refused:
            signing.rotate(world.foo)
        message = str(refused.value)
        assert "foo.com" in message and "4" in message and "max_published_signing_keys" in message
        assert set(jwks(client, "foo.com")) == set(kids)
        assert current_key(world.foo).kid == kids[0]
        assert verify_with_jwks(client, "foo.com", first_token) == {"sub": "first"}

    def test_a_key_whose_publication_ended_frees_its_place_and_its_row(self, client, world):
        kids = self.rotate_to_the_limit(world.foo)
        oldest = SigningKey.objects.for_tenant(world.foo).filter(kid=kids[-1])
        oldest.update(publish_until=timezone.now() - timedelta(seconds=1))
        rotatekeys("--tenant", "foo.com")
        assert len(jwks(client, "foo.com")) == 4
        # Unpublished and signing nothing, it would only have kept a private key in the table.
        assert not oldest.exists()
        assert SigningKey.objects.for_tenant(world.foo).count() == 4

    def test_the_limit_is_deployment_tomls(self, client, world, deployment_override):
        oauth = settings.DEPLOYMENT.oauth
        deployment_override(oauth=dataclasses.replace(oauth, max_published_signing_keys=2))
        rotatekeys("--tenant", "foo.com")
        with pytest.raises(signing.KeyLimitReached, match="at most 2"):
            signing.rotate(world.foo)
        assert len(jwks(client, "foo.com")) == 2

    def test_other_tenants_keys_do_not_count(self, client, world):
        self.rotate_to_the_limit(world.foo)
        rotatekeys("--tenant", "carbon.super")
        assert len(jwks(client, "carbon.super")) == 2


def in_a_thread(work):
    """Return what ``work()`` returns (or raises), run in a thread of its own: its own database
    connection, committing what it does."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_closing(work)).result()


def _closing(work):
    def run():
        try:
            return work()
        finally:
            connection.close()

    return run


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent rotations need PostgreSQL")
def test_concurrent_rotations_stay_within_the_limit(deployment_override):
    """Two rotations at once, with room for one: both counted the published keys before either
    made its key, and both went through, unless a tenant's rotations take turns."""
    deployment_override(oauth=dataclasses.replace(settings.DEPLOYMENT.oauth, max_published_signing_keys=2))
    tenant = in_a_thread(lambda: create_tenant("race.org", admin_username="boss", admin_password="boss-pw"))
    barrier = threading.Barrier(2)

    def rotate():
        barrier.wait()
        return signing.rotate(tenant)

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = [future.exception() for future in [pool.submit(_closing(rotate)) for _ in range(2)]]
        assert sorted(type(outcome).__name__ for outcome in outcomes) == ["KeyLimitReached", "NoneType"]
        published = in_a_thread(lambda: [k for k in SigningKey.objects.for_tenant(tenant) if k.is_published])
        assert len(published) == 2
    finally:
        in_a_thread(lambda: Tenant.objects.filter(pk=tenant.pk).delete())
