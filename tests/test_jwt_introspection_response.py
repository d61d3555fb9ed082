"""JWT introspection responses (RFC 9701; docs/jwt.md): how to ask, what they hold, who they
are for; errors stay JSON. Every response is verified with jwcrypto against the JWKS."""

from __future__ import annotations

import re
import time
import uuid
from functools import cached_property
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.test import RequestFactory

from deployment import REPO_ROOT, loads
from identity.bootstrap import bootstrap
from identity.provisioning import create_user
from introspection.negotiation import JSON, JWT, preferred, wants_jwt
from tenants.models import Tenant
from tests.support.auth import basic_auth, bearer_auth
from tests.support.jwt import (
    JWT_CONTENT_TYPE,
    RESPONSE_TYP,
    SUPER,
    introspect,
    issuer_of,
    json_of,
    jwt_client,
    verify,
)
from tests.support.oauth import DEMO, issue, revoke

pytestmark = pytest.mark.django_db

ADMIN = basic_auth("admin@foo.com", "admin")
SUPER_ADMIN = basic_auth("admin", "admin")
GATEWAY = ("gateway", "gateway-secret-0123456789")
TEXT = "text/html"


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        bootstrap()
        foo = Tenant.objects.get(domain="foo.com")
        create_user(foo, "viewer", "viewer-pw")  # no permission: a 403 caller
        jwt_client(
            foo,
            GATEWAY[0],
            client_secret=GATEWAY[1],
            token_format="opaque",
            scopes=["internal_oauth2_introspect", "test1"],
        )
        jwt_client(foo, "jwt-app", client_secret="jwt-app-secret-0123456789")
        return SimpleNamespace(foo=foo)

    return build_once(make)


class Tokens:
    """Fresh tokens of one test, each issued when the test first asks for it: foo.com's (opaque
    and JWT), the super tenant's, and Bearer callers'."""

    def __init__(self, client):
        self.client = client

    def grant(self, domain="foo.com", credentials=DEMO, **data) -> str:
        body = issue(self.client, domain, {"grant_type": "client_credentials", **data}, credentials)
        return body["access_token"]

    @cached_property
    def opaque(self) -> str:
        return self.grant(scope="test1")

    @cached_property
    def jwt(self) -> str:
        return self.grant(credentials=("jwt-app", "jwt-app-secret-0123456789"))

    @cached_property
    def super(self) -> str:
        return self.grant(domain=SUPER)

    @cached_property
    def gateway(self) -> str:
        return self.grant(credentials=GATEWAY, scope="internal_oauth2_introspect")

    @cached_property
    def unscoped(self) -> str:
        return self.grant(credentials=GATEWAY, scope="test1")


@pytest.fixture
def tokens(client, world):
    """The test's tokens (``Tokens``): issuing only those it uses saves four grants in five."""
    return Tokens(client)


def as_jwt(client, response, domain: str = "foo.com"):
    """Check an RFC 9701 response of ``domain`` and return its verified header and claims."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == JWT_CONTENT_TYPE
    assert response["Cache-Control"] == "no-store"
    return verify(client, domain, response.content.decode(), RESPONSE_TYP)


def configure(deployment_override, toml: str):
    """Run the test with ``toml``'s [oauth] and [[resource.access_control]] sections."""
    deployment = loads(toml + '\n[super_admin]\npassword = "pw"\n')
    return deployment_override(oauth=deployment.oauth, resource=deployment.resource)


BOTH_BASIC = """
[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
allowed_auth_handlers = ["BasicAuthentication", "BasicClientAuthentication", "OAuthAuthentication"]
"""


class TestAsking:
    """``response_as_jwt`` (GET and POST), else the Accept header, chooses JSON or JWT."""

    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_response_as_jwt_true(self, client, tokens, method):
        response = introspect(
            client, "foo.com", {"token": tokens.opaque, "response_as_jwt": "true"}, ADMIN, method
        )
        assert as_jwt(client, response).claims["token_introspection"]["active"] is True

    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_response_as_jwt_false(self, client, tokens, method):
        data = {"token": tokens.opaque, "response_as_jwt": "false"}
        assert json_of(introspect(client, "foo.com", data, ADMIN, method))["active"] is True

    @pytest.mark.parametrize(
        ("accept", "answer"),
        [
            (JWT, JWT),
            (JSON, JSON),
            ("", JSON),
            # Both listed: the higher quality wins.
            (f"{JSON};q=0.5, {JWT}", JWT),
            (f"{JSON}, {JWT};q=0.9", JSON),
            (f"{JWT};q=0.4, {JSON};q=0.6", JSON),
            # q=0 refuses a type.
            (f"{JWT};q=0", JSON),
            (f"{JWT};q=0, */*", JSON),
            (f"{JSON};q=0, {JWT}", JWT),
            # A tie goes to the first listed.
            (f"{JWT}, {JSON}", JWT),
            (f"{JSON}, {JWT}", JSON),
            (f"{JWT};q=0.8, {JSON};q=0.8", JWT),
            # Wildcards match both the same: JSON, the default.
            ("*/*", JSON),
            ("application/*", JSON),
            # The most specific range gives a type its quality.
            (f"application/*;q=0.5, {JWT}", JWT),
            (f"*/*;q=0.9, {JWT};q=0.1", JSON),
            # Only a type we cannot answer: JSON, rather than a 406.
            (TEXT, JSON),
        ],
    )
    def test_accept(self, client, tokens, accept, answer):
        headers = {**ADMIN, "Accept": accept} if accept else ADMIN
        response = introspect(client, "foo.com", {"token": tokens.opaque}, headers)
        assert response.status_code == 200
        assert response["Content-Type"] == answer

    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_response_as_jwt_false_overrides_accept(self, client, tokens, method):
        data = {"token": tokens.opaque, "response_as_jwt": "false"}
        response = introspect(client, "foo.com", data, {**ADMIN, "Accept": JWT}, method)
        assert json_of(response)["active"] is True

    def test_response_as_jwt_true_overrides_accept(self, client, tokens):
        data = {"token": tokens.opaque, "response_as_jwt": "true"}
        response = introspect(client, "foo.com", data, {**ADMIN, "Accept": JSON})
        as_jwt(client, response)


class TestContents:
    """Header typ/alg/kid; claims iss, aud, iat, exp, jti and token_introspection (RFC 9701 §5)."""

    def test_header(self, client, tokens):
        response = introspect(client, "foo.com", {"token": tokens.opaque, "response_as_jwt": "true"}, ADMIN)
        header = as_jwt(client, response).header
        assert set(header) == {"typ", "alg", "kid"}
        assert header["alg"] == "RS256"

    @pytest.mark.parametrize("which", ["opaque", "jwt"])
    def test_claims(self, client, tokens, which):
        token = getattr(tokens, which)
        before = int(time.time())
        response = introspect(client, "foo.com", {"token": token, "response_as_jwt": "true"}, ADMIN)
        after = int(time.time())
        claims = as_jwt(client, response).claims
        assert set(claims) == {"iss", "aud", "iat", "exp", "jti", "token_introspection"}
        # Decided with the security audit: a signed answer expires (it had no exp).
        assert claims["exp"] == claims["iat"] + 60
        assert claims["iss"] == issuer_of("foo.com")
        assert claims["aud"] == "admin@foo.com"
        assert before <= claims["iat"] <= after
        assert uuid.UUID(claims["jti"])
        plain = json_of(introspect(client, "foo.com", {"token": token}, ADMIN))
        assert claims["token_introspection"] == plain

    def test_each_response_has_its_own_jti(self, client, tokens):
        data = {"token": tokens.opaque, "response_as_jwt": "true"}
        jtis = {as_jwt(client, introspect(client, "foo.com", data, ADMIN)).claims["jti"] for _ in range(3)}
        assert len(jtis) == 3

    @pytest.mark.parametrize("case", ["unknown", "revoked", "other tenant"])
    def test_inactive(self, client, tokens, case):
        token = {"unknown": "no-such-token", "revoked": tokens.opaque, "other tenant": tokens.super}[case]
        if case == "revoked":
            assert revoke(client, token).status_code == 200
        response = introspect(client, "foo.com", {"token": token, "response_as_jwt": "true"}, ADMIN)
        assert as_jwt(client, response).claims["token_introspection"] == {"active": False}

    def test_super_tenant_path(self, client, tokens):
        response = introspect(client, SUPER, {"token": tokens.super, "response_as_jwt": "true"}, SUPER_ADMIN)
        claims = as_jwt(client, response, SUPER).claims
        assert claims["iss"] == issuer_of(SUPER)
        assert claims["aud"] == "admin@carbon.super"
        assert claims["token_introspection"]["iss"] == issuer_of(SUPER)

    def test_iss_is_the_paths_tenant_and_the_token_keeps_its_own(self, client, tokens, deployment_override):
        """With allow_cross_tenant, the response is the path tenant's; the token's iss its own."""
        configure(deployment_override, "[oauth.introspect]\nallow_cross_tenant = true\n")
        response = introspect(client, "foo.com", {"token": tokens.super, "response_as_jwt": "true"}, ADMIN)
        claims = as_jwt(client, response, "foo.com").claims
        assert claims["iss"] == issuer_of("foo.com")
        assert claims["token_introspection"]["iss"] == issuer_of(SUPER)


class TestAudience:
    """``aud`` names the caller the response is for (docs/jwt.md)."""

    def test_user_caller(self, client, tokens):
        response = introspect(client, "foo.com", {"token": tokens.opaque, "response_as_jwt": "true"}, ADMIN)
        assert as_jwt(client, response).claims["aud"] == "admin@foo.com"

    def test_client_caller(self, client, tokens, deployment_override):
        configure(deployment_override, BOTH_BASIC)
        data = {"token": tokens.opaque, "response_as_jwt": "true"}
        response = introspect(client, "foo.com", data, basic_auth(*GATEWAY))
        assert as_jwt(client, response).claims["aud"] == "gateway"

    def test_bearer_caller(self, client, tokens):
        """The client id of the bearer token, not of the token introspected."""
        data = {"token": tokens.opaque, "response_as_jwt": "true"}
        claims = as_jwt(client, introspect(client, "foo.com", data, bearer_auth(tokens.gateway))).claims
        assert claims["aud"] == "gateway"
        assert claims["token_introspection"]["client_id"] == DEMO[0]

    def test_no_caller_with_skip_authorization(self, client, tokens, deployment_override):
        configure(deployment_override, "[oauth.introspect]\nskip_authorization = true\n")
        response = introspect(client, "foo.com", {"token": tokens.opaque, "response_as_jwt": "true"}, {})
        claims = as_jwt(client, response).claims
        assert "aud" not in claims
        assert claims["token_introspection"]["active"] is True


class TestErrorsStayJson:
    """A request that fails gets its JSON error, whatever format it asked for."""

    @pytest.fixture(params=["response_as_jwt", "accept"])
    def ask_jwt(self, request):
        def ask(data: dict, headers: dict) -> tuple[dict, dict]:
            if request.param == "response_as_jwt":
                return {**data, "response_as_jwt": "true"}, headers
            return data, {**headers, "Accept": JWT}

        return ask

    def test_401(self, client, tokens, ask_jwt):
        response = introspect(client, "foo.com", *ask_jwt({"token": tokens.opaque}, {}))
        assert response.status_code == 401
        assert json_of(response)["error"] == "invalid_client"
        assert response["WWW-Authenticate"]

    def test_401_wrong_password(self, client, tokens, ask_jwt):
        response = introspect(
            client, "foo.com", *ask_jwt({"token": tokens.opaque}, basic_auth("admin@foo.com", "x"))
        )
        assert response.status_code == 401
        assert json_of(response)["error"] == "invalid_client"

    @pytest.mark.parametrize("data", [{}, {"token": ""}])
    def test_400_invalid_input(self, client, ask_jwt, world, data):
        response = introspect(client, "foo.com", *ask_jwt(data, ADMIN))
        assert response.status_code == 400
        assert json_of(response) == {"error": "Invalid input"}

    def test_403_user_without_permission(self, client, tokens, ask_jwt):
        response = introspect(
            client, "foo.com", *ask_jwt({"token": tokens.opaque}, basic_auth("viewer@foo.com", "viewer-pw"))
        )
        assert response.status_code == 403
        assert json_of(response)["error"] == "access_denied"

    def test_403_bearer_without_scope(self, client, tokens, ask_jwt):
        response = introspect(
            client, "foo.com", *ask_jwt({"token": tokens.opaque}, bearer_auth(tokens.unscoped))
        )
        assert response.status_code == 403
        assert json_of(response)["error"] == "insufficient_scope"

    def test_405_get_refused(self, client, tokens, ask_jwt, deployment_override):
        configure(deployment_override, "[oauth.introspect]\nallow_get = false\n")
        data, headers = ask_jwt({"token": tokens.opaque}, ADMIN)
        response = introspect(client, "foo.com", data, headers, method="GET")
        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert "error" in json_of(response)


class TestDiscovery:
    """The metadata lists the algorithm JWT responses are signed with (RFC 9701 §7)."""

    @pytest.mark.parametrize(
        "path",
        [
            "/.well-known/openid-configuration",
            "/t/foo.com/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/t/foo.com",
        ],
    )
    def test_signing_algorithms(self, client, world, path):
        metadata = json_of(client.get(path, secure=True))
        assert metadata["introspection_signing_alg_values_supported"] == ["RS256"]

    def test_follows_the_current_key(self, client, tokens):
        call_command("rotatekeys", "--tenant", "foo.com", "--algorithm", "ES256", stdout=StringIO())
        metadata = json_of(client.get("/t/foo.com/.well-known/openid-configuration", secure=True))
        assert metadata["introspection_signing_alg_values_supported"] == ["ES256"]
        response = introspect(client, "foo.com", {"token": tokens.opaque, "response_as_jwt": "true"}, ADMIN)
        assert as_jwt(client, response).header["alg"] == "ES256"


class TestQueries:
    """A warm JWT response, like a warm JSON one, costs no query once the key is loaded."""

    def test_same_queries_as_json(self, client, tokens, django_assert_num_queries):
        data = {"token": tokens.opaque}
        introspect(client, "foo.com", {**data, "response_as_jwt": "true"}, ADMIN)  # caches caller and key
        with django_assert_num_queries(0):
            json_of(introspect(client, "foo.com", data, ADMIN))
        with django_assert_num_queries(0):
            as_jwt_response = introspect(client, "foo.com", {**data, "response_as_jwt": "true"}, ADMIN)
        assert as_jwt_response["Content-Type"] == JWT_CONTENT_TYPE


class TestPreferred:
    """``introspection.negotiation.preferred``: RFC 9110 §12.5.1 content negotiation."""

    @pytest.mark.parametrize(
        ("accept", "offers", "answer"),
        [
            ("", (JSON, JWT), JSON),
            ("   ", (JSON, JWT), JSON),
            (JWT, (JSON, JWT), JWT),
            (JSON, (JSON, JWT), JSON),
            (JWT.upper(), (JSON, JWT), JWT),  # media types are case-insensitive
            (f"{JWT} ; q=1", (JSON, JWT), JWT),
            (f"{JWT};charset=utf-8", (JSON, JWT), JWT),
            (f"{JSON};q=0.1,{JWT};q=0.2", (JSON, JWT), JWT),
            (f"{JSON};q=0.2,{JWT};q=0.1", (JSON, JWT), JSON),
            (f"{JWT};q=0", (JSON, JWT), JSON),
            (f"{JWT};q=0.0, {JSON};q=0.001", (JSON, JWT), JSON),
            (f"{JWT};q=0.001", (JSON, JWT), JWT),
            (f"{JWT}, {JSON}", (JSON, JWT), JWT),
            (f"{JSON}, {JWT}", (JSON, JWT), JSON),
            ("*/*", (JSON, JWT), JSON),
            ("*/*", (JWT, JSON), JWT),  # a tie on one range: the first offer
            ("application/*", (JSON, JWT), JSON),
            (f"application/*;q=0.5, {JWT}", (JSON, JWT), JWT),
            (f"{JWT}, application/*;q=0.5", (JSON, JWT), JWT),
            (f"*/*;q=0.1, {JSON};q=0", (JSON, JWT), JWT),
            (f"{JSON};q=0, {JWT};q=0", (JSON, JWT), JSON),  # nothing acceptable: the default
            ("text/html", (JSON, JWT), JSON),
            ("text/*, application/json;q=0.5", (TEXT, JSON), TEXT),
            # Malformed parts are skipped or refused, never an error.
            ("garbage", (JSON, JWT), JSON),
            (f"{JWT};q=abc", (JSON, JWT), JSON),
            (f"{JWT};q=5", (JSON, JWT), JWT),
            (f",,{JWT},", (JSON, JWT), JWT),
        ],
    )
    def test_table(self, accept, offers, answer):
        assert preferred(accept, offers) == answer

    def test_the_documented_rules(self):
        """docs/jwt.md's negotiation table says what the code does."""
        page = (REPO_ROOT / "docs" / "jwt.md").read_text()
        table = page.split("### Negotiation rules", 1)[1].split("###", 1)[0]
        rows = re.findall(r"^\| (`[^|]*`|\(none\)) \| (JSON|JWT) \|$", table, re.MULTILINE)
        assert len(rows) >= 10
        for accept, answer in rows:
            header = "" if accept == "(none)" else accept.strip("`")
            assert preferred(header, (JSON, JWT)) == {"JSON": JSON, "JWT": JWT}[answer], accept

    @pytest.mark.parametrize(
        ("method", "params", "accept", "answer"),
        [
            ("POST", {"response_as_jwt": "true"}, "", True),
            ("POST", {"response_as_jwt": "TRUE"}, "", True),
            ("GET", {"response_as_jwt": "true"}, "", True),
            ("POST", {"response_as_jwt": "false"}, JWT, False),
            ("GET", {"response_as_jwt": "false"}, JWT, False),
            ("POST", {"response_as_jwt": "maybe"}, JWT, True),  # not a boolean: Accept decides
            ("POST", {}, JWT, True),
            ("POST", {}, "", False),
        ],
    )
    def test_wants_jwt(self, method, params, accept, answer):
        factory = RequestFactory()
        headers = {"Accept": accept} if accept else {}
        make = factory.post if method == "POST" else factory.get
        assert wants_jwt(make("/oauth2/introspect", params, headers=headers)) is answer
