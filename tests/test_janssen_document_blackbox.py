"""The Janssen introspection document, run as written against the real server (docs/quickstart.md,
docs/introspection.md).

The endpoint is read from ``/.well-known/openid-configuration``, as the document says, for the
super tenant and for ``/t/foo.com/``. The document's two curl commands run with the system's
``curl`` through the shell, their text unchanged except for the server's values (endpoint,
tokens) and one missing line continuation in the POST command. ``CURL_CA_BUNDLE`` makes curl
trust the server's self-signed certificate, so no flag is added. Unlike the document's sample
responses, ours hold no ``null``.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from jwcrypto import jwk, jws

from deployment import REPO_ROOT
from tests.support.jwt import RESPONSE_TYP, no_nulls
from tests.support.oauth import DEMO

pytestmark = [pytest.mark.blackbox, pytest.mark.long(6)]

# The document's commands, verbatim, with its placeholders and sample tokens.
DOCUMENT_ENDPOINT = "https://<my.jans.server>/jans-auth/restv1/introspection"
GET_COMMAND = (
    "curl -X 'GET'   'https://<my.jans.server>/jans-auth/restv1/introspection?"
    "token=368fea2b-be14-4d30-bd57-bcc4cde2033c&response_as_jwt=false'   -H 'accept: application/json' -H   "
    '"Authorization: Bearer 111d51a4-2828-4b47-abce-77034cddcfb5"'
)
GET_TOKEN, GET_BEARER = "368fea2b-be14-4d30-bd57-bcc4cde2033c", "111d51a4-2828-4b47-abce-77034cddcfb5"
POST_COMMAND = """curl -X 'POST' \\
  'https://<my.jans.server>/jans-auth/restv1/introspection' \\
  -H 'accept: application/json' \\
  -H 'Content-Type: application/x-www-form-urlencoded' \\
  -d 'token=eyJra....3ZkB-Ajwg'  
  -H "Authorization: Bearer eyJra...BpKo7g"
"""  # noqa: W291 (the document's trailing spaces)
POST_TOKEN, POST_BEARER = "eyJra....3ZkB-Ajwg", "eyJra...BpKo7g"
# The document's slip: the -d line lacks its backslash, so the shell runs the Authorization
# line as a command of its own and curl sends no credentials. Restored here.
POST_COMMAND_FIXED = POST_COMMAND.replace(
    "-d 'token=eyJra....3ZkB-Ajwg'  \n", "-d 'token=eyJra....3ZkB-Ajwg' \\\n"
)

PREFIXES = {"carbon.super": "", "foo.com": "/t/foo.com"}
JWT_CLIENT = ("janssen-jwt", "janssen-jwt-secret-0123456789")
ACTIVE_KEYS = {
    "active",
    "token_type",
    "client_id",
    "scope",
    "exp",
    "iat",
    "nbf",
    "username",
    "sub",
    "iss",
    "jti",
}


def start(server_factory, extra: str = ""):
    server = server_factory("[demo]\nenabled = true\n" + extra)
    with server.console() as console:
        for tenant in PREFIXES:
            console.manage(
                "createclient", "--tenant", tenant, "--name", "Janssen JWT client", "--grant-types",
                "client_credentials", "--client-id", JWT_CLIENT[0], "--client-secret", JWT_CLIENT[1],
                "--scopes", "test1", "--token-format", "jwt",
            )  # fmt: skip
    return server


@pytest.fixture(scope="module")
def server(server_factory):
    return start(server_factory)


@pytest.fixture(scope="module")
def open_server(server_factory):
    """Janssen's introspectionSkipAuthorization=true."""
    return start(server_factory, "[oauth.introspect]\nskip_authorization = true\n")


def discover(server, tenant: str) -> dict:
    """Return the tenant's OpenID configuration, where the document finds the endpoint."""
    response = server.get(PREFIXES[tenant] + "/.well-known/openid-configuration")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["introspection_endpoint"] == f"{server.base_url}{PREFIXES[tenant]}/oauth2/introspect"
    return metadata


def path_of(server, url: str) -> str:
    """The path of one of the server's absolute URLs (the harness prepends its origin)."""
    assert url.startswith(server.base_url + "/"), url
    return url.removeprefix(server.base_url)


def token(server, tenant: str, credentials=DEMO, scope: str = "") -> str:
    response = server.post(
        path_of(server, discover(server, tenant)["token_endpoint"]),
        data={"grant_type": "client_credentials", **({"scope": scope} if scope else {})},
        auth=credentials,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def curl(server, command: str) -> str:
    """Run ``command`` with the shell, as a reader pasting it would; return what curl printed."""
    done = subprocess.run(
        ["bash", "-c", command],
        env={**os.environ, "CURL_CA_BUNDLE": server.cert},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


def get_command(endpoint: str, token: str, bearer: str | None, as_jwt: bool = False) -> str:
    command = GET_COMMAND.replace(DOCUMENT_ENDPOINT, endpoint).replace(GET_TOKEN, token)
    if as_jwt:
        command = command.replace("response_as_jwt=false", "response_as_jwt=true")
    if bearer is None:
        return command.replace(f' -H   "Authorization: Bearer {GET_BEARER}"', "")
    return command.replace(GET_BEARER, bearer)


def post_command(endpoint: str, token: str, bearer: str | None, template: str = POST_COMMAND_FIXED) -> str:
    command = template.replace(DOCUMENT_ENDPOINT, endpoint).replace(POST_TOKEN, token)
    if bearer is None:
        return command.replace(f' \\\n  -H "Authorization: Bearer {POST_BEARER}"', "")
    return command.replace(POST_BEARER, bearer)


def active_response(output: str, server, tenant: str, client_id: str) -> dict:
    body = json.loads(output)
    assert no_nulls(body), body
    assert set(body) <= ACTIVE_KEYS | {"aud"}
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == client_id
    assert body["iss"] == server.base_url + PREFIXES[tenant]
    assert body["exp"] > body["iat"]
    return body


def verified_claims(server, tenant: str, compact: str) -> dict:
    keys = jwk.JWKSet.from_json(server.get(path_of(server, discover(server, tenant)["jwks_uri"])).content)
    signed = jws.JWS()
    signed.deserialize(compact)
    signed.verify(keys)
    assert signed.jose_header["typ"] == RESPONSE_TYP
    claims = json.loads(signed.payload)
    assert no_nulls(claims), claims
    return claims


@pytest.mark.parametrize("tenant", list(PREFIXES))
class TestAsWritten:
    """With a Bearer caller: the demo client's token with scope internal_oauth2_introspect."""

    def test_get(self, server, tenant):
        endpoint = discover(server, tenant)["introspection_endpoint"]
        caller = token(server, tenant, scope="internal_oauth2_introspect")
        introspected = token(server, tenant, scope="test1")
        body = active_response(
            curl(server, get_command(endpoint, introspected, caller)), server, tenant, DEMO[0]
        )
        assert set(body) == ACTIVE_KEYS
        assert body["scope"] == "test1"
        assert body["sub"] == DEMO[0]
        assert body["username"] == f"admin@{tenant}"

    def test_post_jwt_access_token(self, server, tenant):
        """The document's POST introspects a JWT access token ("eyJra...")."""
        endpoint = discover(server, tenant)["introspection_endpoint"]
        caller = token(server, tenant, scope="internal_oauth2_introspect")
        introspected = token(server, tenant, JWT_CLIENT)
        assert introspected.startswith("eyJ")
        body = active_response(
            curl(server, post_command(endpoint, introspected, caller)), server, tenant, JWT_CLIENT[0]
        )
        assert body["aud"] == JWT_CLIENT[0]  # a JWT access token always has one (RFC 9068)
        assert "scope" not in body  # none asked: absent, not "" as in the document's sample

    def test_post_exactly_as_printed_sends_no_credentials(self, server, tenant):
        """Without the missing backslash the Authorization header never reaches curl: 401."""
        endpoint = discover(server, tenant)["introspection_endpoint"]
        caller = token(server, tenant, scope="internal_oauth2_introspect")
        command = post_command(endpoint, token(server, tenant), caller, template=POST_COMMAND)
        body = json.loads(curl(server, command))
        assert body["error"] == "invalid_client"
        assert no_nulls(body)

    def test_get_response_as_jwt(self, server, tenant):
        endpoint = discover(server, tenant)["introspection_endpoint"]
        caller = token(server, tenant, scope="internal_oauth2_introspect")
        introspected = token(server, tenant, scope="test1")
        output = curl(server, get_command(endpoint, introspected, caller, as_jwt=True))
        claims = verified_claims(server, tenant, output)
        assert claims["iss"] == server.base_url + PREFIXES[tenant]
        assert claims["aud"] == DEMO[0]  # the Bearer token's client
        plain = curl(server, get_command(endpoint, introspected, caller))
        assert claims["token_introspection"] == json.loads(plain)

    def test_inactive(self, server, tenant):
        endpoint = discover(server, tenant)["introspection_endpoint"]
        caller = token(server, tenant, scope="internal_oauth2_introspect")
        output = curl(server, get_command(endpoint, "368fea2b-be14-4d30-bd57-bcc4cde2033c", caller))
        assert json.loads(output) == {"active": False}


@pytest.mark.parametrize("tenant", list(PREFIXES))
class TestSkipAuthorization:
    """``[oauth.introspect] skip_authorization = true``: no Authorization header needed."""

    def test_get_without_authorization(self, open_server, tenant):
        endpoint = discover(open_server, tenant)["introspection_endpoint"]
        command = get_command(endpoint, token(open_server, tenant, scope="test1"), None)
        assert "Authorization" not in command
        active_response(curl(open_server, command), open_server, tenant, DEMO[0])

    def test_post_without_authorization(self, open_server, tenant):
        endpoint = discover(open_server, tenant)["introspection_endpoint"]
        command = post_command(endpoint, token(open_server, tenant, JWT_CLIENT), None)
        assert "Authorization" not in command
        active_response(curl(open_server, command), open_server, tenant, JWT_CLIENT[0])

    def test_post_exactly_as_printed(self, open_server, tenant):
        """The document's POST works as printed once no authorization is needed."""
        endpoint = discover(open_server, tenant)["introspection_endpoint"]
        command = post_command(
            endpoint, token(open_server, tenant, JWT_CLIENT), "unused", template=POST_COMMAND
        )
        active_response(curl(open_server, command), open_server, tenant, JWT_CLIENT[0])

    def test_with_authorization_still(self, open_server, tenant):
        endpoint = discover(open_server, tenant)["introspection_endpoint"]
        caller = token(open_server, tenant, scope="internal_oauth2_introspect")
        command = get_command(endpoint, token(open_server, tenant, scope="test1"), caller)
        active_response(curl(open_server, command), open_server, tenant, DEMO[0])

    def test_response_as_jwt_has_no_audience(self, open_server, tenant):
        endpoint = discover(open_server, tenant)["introspection_endpoint"]
        introspected = token(open_server, tenant, scope="test1")
        claims = verified_claims(
            open_server, tenant, curl(open_server, get_command(endpoint, introspected, None, True))
        )
        assert "aud" not in claims
        assert claims["token_introspection"]["active"] is True


QUICKSTART_ENDPOINT = "https://localhost:9443/oauth2/introspect"


@pytest.mark.parametrize(
    "command",
    [
        get_command(QUICKSTART_ENDPOINT, "<TOKEN>", "<BEARER_TOKEN>"),
        post_command(QUICKSTART_ENDPOINT, "<TOKEN>", "<BEARER_TOKEN>"),
    ],
    ids=["GET", "POST"],
)
def test_the_quickstart_lists_the_command(command):
    """docs/quickstart.md shows both commands at the demo server (``-k``: its self-signed
    certificate), their tokens left to the reader, the POST with its missing backslash."""
    quickstart = " ".join((REPO_ROOT / "docs" / "quickstart.md").read_text().split())
    assert " ".join(command.replace("curl ", "curl -k ", 1).split()) in quickstart


def test_tokens_never_reach_the_log(server):
    """The GET form puts the token in the query string: it must not be logged
    (docs/introspection.md#the-request)."""
    endpoint = discover(server, "foo.com")["introspection_endpoint"]
    caller = token(server, "foo.com", scope="internal_oauth2_introspect")
    introspected = token(server, "foo.com", scope="test1")
    active_response(curl(server, get_command(endpoint, introspected, caller)), server, "foo.com", DEMO[0])
    log = server.written_log()
    assert introspected not in log
    assert caller not in log
