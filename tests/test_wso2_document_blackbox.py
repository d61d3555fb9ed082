"""Every curl command of the WSO2 document "Invoke the OAuth Introspection Endpoint", run as
written with the ``curl`` binary against real servers (docs/quickstart.md, docs/introspection.md).

Only the host and port change (``https://localhost:9443`` becomes the test server's), and the
values that must come from earlier responses (the access token) or that the document leaves as
placeholders (``<TENANT_DOMAIN>``, ``<BASE64ENCODED(...)>``) are filled in. ``--write-out``
is appended to read the status code; it changes nothing in the request.

One server per configuration the document describes: the default (Basic users), its
``[[resource.access_control]]`` entry for client callers, its ``allow_cross_tenant`` snippet,
and its ``cross_tenant`` / ``cross_access_allowed_tenants`` entry used with ``appTenant``.
"""

from __future__ import annotations

import base64
import json
import shlex
import subprocess

import pytest

from deployment import REPO_ROOT

pytestmark = [pytest.mark.blackbox, pytest.mark.long(14)]

DEMO = "[demo]\nenabled = true\n"
SAMPLE_TOKEN = "fbc4e794-23db-3394-b1e5-f2c3e511d01f"  # the document's sample access token
CLIENT_ID = "rgfKVdnMQnJSSr_pKFTxj3apiwYa"

# --- the document's configuration snippets, as written ------------------------------------

CLIENT_CALLERS = """
[[resource.access_control]]
context="(.*)/oauth2/introspect(.*)"
http_method = "all"
secure = true
allowed_auth_handlers="BasicClientAuthentication"
"""
LOGIN_PERMISSION = """
[resource_access_control.introspect]
permissions = ["/permission/admin/manage/identity/applicationmgt/view","/permission/admin/login"]
"""
ALLOW_CROSS_TENANT = """
[oauth.introspect]
allow_cross_tenant = true
"""
CROSS_TENANT_CLIENTS = """
[[resource.access_control]]
context="(.*)/oauth2/introspect(.*)"
http_method = "all"
secure = true
allowed_auth_handlers="BasicClientAuthentication"
cross_tenant = true
cross_access_allowed_tenants="carbon.super"
"""
SUBJECT_APP_CONFIGURED = """
[oauth]
validation_response_subject_identifier_format= "app_configured"
"""

# --- the document's curl commands, as written ----------------------------------------------

# Invoking the endpoint for the super tenant: get a valid token (without, with scopes).
SUPER_TOKEN = (
    "curl -v -X POST --basic -u rgfKVdnMQnJSSr_pKFTxj3apiwYa:BRebJ0aqfclQB9v7yZwhj0JfW0ga "
    "-H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' -k "
    "-d 'grant_type=client_credentials' https://localhost:9443/oauth2/token"
)
SUPER_TOKEN_SCOPES = (
    "curl -v -X POST --basic -u rgfKVdnMQnJSSr_pKFTxj3apiwYa:BRebJ0aqfclQB9v7yZwhj0JfW0ga "
    "-H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' -k "
    "-d 'grant_type=client_credentials&scope=test1 test2' https://localhost:9443/oauth2/token"
)
# Validate the token: basic authentication, client credentials.
SUPER_VALIDATE_USER = (
    "curl -k -u admin:admin -H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=fbc4e794-23db-3394-b1e5-f2c3e511d01f' https://localhost:9443/oauth2/introspect"
)
SUPER_VALIDATE_CLIENT = (
    "curl -k -u rgfKVdnMQnJSSr_pKFTxj3apiwYa:BRebJ0aqfclQB9v7yZwhj0JfW0ga "
    "-H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=fbc4e794-23db-3394-b1e5-f2c3e511d01f' https://localhost:9443/oauth2/introspect"
)
# Empty token (its sample).
SUPER_EMPTY = (
    "curl -k -u admin:admin -H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=' https://localhost:9443/oauth2/introspect"
)
# Invoking the endpoint for tenants.
TENANT_TOKEN = (
    "curl -v -X POST --basic -u rgfKVdnMQnJSSr_pKFTxj3apiwYa:BRebJ0aqfclQB9v7yZwhj0JfW0ga "
    "-H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' -k "
    "-d 'grant_type=client_credentials' https://localhost:9443/t/foo.com/oauth2/token"
)
TENANT_TOKEN_SCOPES = (
    "curl -v -X POST --basic -u rgfKVdnMQnJSSr_pKFTxj3apiwYa:BRebJ0aqfclQB9v7yZwhj0JfW0ga "
    "-H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' -k "
    "-d 'grant_type=client_credentials&scope=test1 test2' https://localhost:9443/t/foo.com/oauth2/token"
)
TENANT_VALIDATE_USER = (
    "curl -k -u admin@foo.com:admin -H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=fbc4e794-23db-3394-b1e5-f2c3e511d01f' https://localhost:9443/t/foo.com/oauth2/introspect"
)
# "Sample Format (method 2)": the Basic header written out.
TENANT_VALIDATE_USER_HEADER = (
    "curl -v -k -H 'Authorization: Basic <BASE64ENCODED(USERNAME@TENAND_DOMAIN:PASSWORD)>' "
    "-H 'Content-Type: application/x-www-form-urlencoded' -X POST --data 'token=<ACCESS_TOKEN>' "
    "https://localhost:9443/t/<TENANT_DOMAIN>/oauth2/introspect"
)
TENANT_VALIDATE_CLIENT = (
    "curl -k -u rgfKVdnMQnJSSr_pKFTxj3apiwYa:BRebJ0aqfclQB9v7yZwhj0JfW0ga "
    "-H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=fbc4e794-23db-3394-b1e5-f2c3e511d01f' https://localhost:9443/t/foo.com/oauth2/introspect"
)
# Empty token, its request format for tenants.
TENANT_EMPTY = (
    "curl -k -u <USERNAME>@<TENANT_DOMAIN>:<PASSWORD> -H 'Content-Type: application/x-www-form-urlencoded' "
    "-X POST --data 'token=' https://<IS_HOST>:<IS_PORT>/t/<TENANT_DOMAIN>/oauth2/introspect"
)

# The "Request Format" lines: the same commands with placeholders, in the document's order.
FORMAT_SUPER_TOKEN = (
    "curl -v -X POST --basic -u <CLIENT_ID>:<CLIENT_SECRET> "
    "-H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' -k "
    "-d 'grant_type=client_credentials' https://<IS_HOST>:<IS_PORT>/oauth2/token"
)
FORMAT_SUPER_TOKEN_SCOPES = (
    "curl -v -X POST --basic -u <CLIENT_ID>:<CLIENT_SECRET> "
    "-H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' -k "
    "-d 'grant_type=client_credentials&scope=<scope 1> <scope 2>' https://<IS_HOST>:<IS_PORT>/oauth2/token"
)
FORMAT_SUPER_VALIDATE_USER = (
    "curl -k -u <USERNAME>:<PASSWORD> -H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=<ACCESS_TOKEN>' https://<IS_HOST>:<IS_PORT>/oauth2/introspect"
)
FORMAT_SUPER_VALIDATE_CLIENT = (
    "curl -k -u <CLIENT_ID>:<CLIENT_SECRET> -H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=<ACCESS_TOKEN>' https://<IS_HOST>:<IS_PORT>/oauth2/introspect"
)
FORMAT_SUPER_EMPTY = (
    "curl -k -u <USERNAME>:<PASSWORD> -H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=' https://<IS_HOST>:<IS_PORT>/oauth2/introspect"
)
FORMAT_TENANT_TOKEN = (
    "curl -v -X POST --basic -u <CLIENT_ID>:<CLIENT_SECRET> "
    "-H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' -k "
    "-d 'grant_type=client_credentials' https://<IS_HOST>:<IS_PORT>/t/<TENANT_DOMAIN>/oauth2/token"
)
FORMAT_TENANT_TOKEN_SCOPES = (
    "curl -v -X POST --basic -u <CLIENT_ID>:<CLIENT_SECRET> "
    "-H 'Content-Type: application/x-www-form-urlencoded;charset=UTF-8' -k "
    "-d 'grant_type=client_credentials&scope=test1 test2' https://<IS_HOST>:<IS_PORT>/t/<TENANT_DOMAIN>/oauth2/token"
)
FORMAT_TENANT_VALIDATE_USER = (
    "curl -k -u <USERNAME>@<TENAND_DOMAIN>:<PASSWORD> -H 'Content-Type: application/x-www-form-urlencoded' "
    "-X POST --data 'token=<ACCESS_TOKEN>' https://<IS_HOST>:<IS_PORT>/t/<TENANT_DOMAIN>/oauth2/introspect"
)
FORMAT_TENANT_VALIDATE_CLIENT = (
    "curl -k -u <CLIENT_ID>:<CLIENT_SECRET> -H 'Content-Type: application/x-www-form-urlencoded' -X POST "
    "--data 'token=<ACCESS_TOKEN>' https://<IS_HOST>:<IS_PORT>/t/<TENANT_DOMAIN>/oauth2/introspect"
)
# What the placeholders stand for: the demo data (docs/quickstart.md).
PLACEHOLDERS = {
    "CLIENT_ID": CLIENT_ID,
    "CLIENT_SECRET": "BRebJ0aqfclQB9v7yZwhj0JfW0ga",
    "USERNAME": "admin",
    "PASSWORD": "admin",
    "TENANT_DOMAIN": "foo.com",
    "TENAND_DOMAIN": "foo.com",  # sic
    "scope 1": "test1",
    "scope 2": "test2",
}

# The keys of the document's sample responses; we add the rest (docs/introspection.md#responses).
TOKEN_KEYS = {"token_type", "expires_in", "access_token"}
INTROSPECTION_KEYS = {"exp", "username", "active", "token_type", "client_id", "iat"}
SECTION_6_4_EXTRA = {"nbf", "sub", "iss", "jti"}


def curl(server, command: str, token: str = "", **placeholders: str) -> tuple[int, dict]:
    """Run one of the document's commands against ``server``; return status and JSON body."""
    command = command.replace("https://localhost:9443", server.base_url)
    command = command.replace("<IS_HOST>:<IS_PORT>", server.base_url.removeprefix("https://"))
    if token:
        command = command.replace(SAMPLE_TOKEN, token).replace("<ACCESS_TOKEN>", token)
    for placeholder, value in placeholders.items():
        command = command.replace(f"<{placeholder}>", value)
    argv = shlex.split(command)
    assert argv[0] == "curl" and "<" not in command, command
    done = subprocess.run(
        [*argv, "--silent", "--write-out", "\n%{http_code}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def token_of(server, command: str) -> str:
    status, body = curl(server, command)
    assert status == 200, body
    ISSUED.setdefault(server.port, []).append(body["access_token"])
    return body["access_token"]


ISSUED: dict[int, list[str]] = {}  # server port -> the tokens it issued to this module


def assert_document_shape(answer: tuple[int, dict], username: str, scope: str | None) -> None:
    """The document's sample response: its keys (and the rest of docs/introspection.md#responses), its
    values."""
    status, body = answer
    assert status == 200, body
    expected_keys = INTROSPECTION_KEYS | SECTION_6_4_EXTRA | ({"scope"} if scope else set())
    assert set(body) == expected_keys
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["client_id"] == CLIENT_ID
    assert body["username"] == username
    assert body.get("scope") == scope
    assert body["exp"] - body["iat"] == 3600


@pytest.fixture(scope="module")
def default(demo_server):
    """The shipped configuration: demo data, Basic users (and Bearer tokens)."""
    return demo_server


@pytest.fixture(scope="module")
def clients(server_factory):
    """The document's entry for client callers."""
    return server_factory(DEMO + CLIENT_CALLERS)


@pytest.fixture(scope="module")
def any_token(server_factory):
    """The document's ``allow_cross_tenant``, permissions and subject-identifier snippets."""
    return server_factory(DEMO + ALLOW_CROSS_TENANT + LOGIN_PERMISSION + SUBJECT_APP_CONFIGURED)


@pytest.fixture(scope="module")
def cross_clients(server_factory):
    """The document's cross-tenant entry for client callers, restricted to carbon.super."""
    return server_factory(DEMO + CROSS_TENANT_CLIENTS)


# The document's sample requests in the order it gives them (the tenant's empty-token one only as a format).
SAMPLE_REQUESTS = [
    SUPER_TOKEN,
    SUPER_TOKEN_SCOPES,
    SUPER_VALIDATE_USER,
    SUPER_VALIDATE_CLIENT,
    SUPER_EMPTY,
    TENANT_TOKEN,
    TENANT_TOKEN_SCOPES,
    TENANT_VALIDATE_USER,
    TENANT_VALIDATE_USER_HEADER,
    TENANT_VALIDATE_CLIENT,
    TENANT_EMPTY,
]


@pytest.mark.parametrize("command", SAMPLE_REQUESTS)
def test_the_quickstart_lists_the_command(command):
    """docs/quickstart.md shows each command, adapted only where a value comes from an earlier
    response (the access token) or is left to the reader (the tenant, the Basic header)."""
    credentials = base64.b64encode(b"admin@foo.com:admin").decode()
    adapted = command.replace(SAMPLE_TOKEN, "<ACCESS_TOKEN>").replace("<IS_HOST>:<IS_PORT>", "localhost:9443")
    adapted = adapted.replace("<BASE64ENCODED(USERNAME@TENAND_DOMAIN:PASSWORD)>", credentials)
    for placeholder, value in PLACEHOLDERS.items():
        adapted = adapted.replace(f"<{placeholder}>", value)
    assert adapted in (REPO_ROOT / "docs" / "quickstart.md").read_text()


class TestRequestFormats:
    """The "Request Format" commands, placeholders filled with the demo data, answer as the samples."""

    @pytest.mark.parametrize(
        ("command", "scope"),
        [
            (FORMAT_SUPER_TOKEN, None),
            (FORMAT_SUPER_TOKEN_SCOPES, "test1 test2"),
            (FORMAT_TENANT_TOKEN, None),
            (FORMAT_TENANT_TOKEN_SCOPES, "test1 test2"),
        ],
    )
    def test_token(self, default, command, scope):
        status, body = curl(default, command, **PLACEHOLDERS)
        assert status == 200
        assert set(body) == TOKEN_KEYS | ({"scope"} if scope else set())
        assert body.get("scope") == scope

    @pytest.mark.parametrize(
        ("server", "get_token", "validate", "username"),
        [
            ("default", FORMAT_SUPER_TOKEN, FORMAT_SUPER_VALIDATE_USER, "admin@carbon.super"),
            ("default", FORMAT_TENANT_TOKEN, FORMAT_TENANT_VALIDATE_USER, "admin@foo.com"),
            ("clients", FORMAT_SUPER_TOKEN, FORMAT_SUPER_VALIDATE_CLIENT, "admin@carbon.super"),
            ("clients", FORMAT_TENANT_TOKEN, FORMAT_TENANT_VALIDATE_CLIENT, "admin@foo.com"),
        ],
    )
    def test_validate(self, request, server, get_token, validate, username):
        server = request.getfixturevalue(server)
        status, issued = curl(server, get_token, **PLACEHOLDERS)
        assert status == 200
        answer = curl(server, validate, issued["access_token"], **PLACEHOLDERS)
        assert_document_shape(answer, username, None)

    def test_empty_token(self, default):
        assert curl(default, FORMAT_SUPER_EMPTY, **PLACEHOLDERS) == (400, {"error": "Invalid input"})


class TestGetAToken:
    """ "Get a valid token (without scopes)" and "(with scopes)", at both tenants."""

    @pytest.mark.parametrize("command", [SUPER_TOKEN, TENANT_TOKEN])
    def test_without_scopes(self, default, command):
        status, body = curl(default, command)
        assert status == 200
        assert set(body) == TOKEN_KEYS
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)

    @pytest.mark.parametrize("command", [SUPER_TOKEN_SCOPES, TENANT_TOKEN_SCOPES])
    def test_with_scopes(self, default, command):
        """The tenant sample shows ``"scope":"test1"``: a slip of the document (docs/quickstart.md)."""
        status, body = curl(default, command)
        assert status == 200
        assert set(body) == TOKEN_KEYS | {"scope"}
        assert body["scope"] == "test1 test2"


class TestBasicAuthentication:
    """The default configuration: ``-u USERNAME:PASSWORD`` of a user with the permission."""

    def test_super_tenant(self, default):
        answer = curl(default, SUPER_VALIDATE_USER, token_of(default, SUPER_TOKEN))
        assert_document_shape(answer, "admin@carbon.super", None)

    def test_super_tenant_with_scopes(self, default):
        answer = curl(default, SUPER_VALIDATE_USER, token_of(default, SUPER_TOKEN_SCOPES))
        assert_document_shape(answer, "admin@carbon.super", "test1 test2")

    @pytest.mark.parametrize("hint", ["access_token", "refresh_token"])
    def test_with_token_type_hint(self, default, hint):
        """ "Note that you can pass the token type as an optional parameter"."""
        token = token_of(default, SUPER_TOKEN)
        command = SUPER_VALIDATE_USER.replace(
            f"'token={SAMPLE_TOKEN}'", f"'token={SAMPLE_TOKEN}&token_type_hint={hint}'"
        )
        answer = curl(default, command, token)
        assert_document_shape(answer, "admin@carbon.super", None)

    def test_tenant_method_1(self, default):
        answer = curl(default, TENANT_VALIDATE_USER, token_of(default, TENANT_TOKEN))
        assert_document_shape(answer, "admin@foo.com", None)

    def test_tenant_method_1_with_scopes(self, default):
        answer = curl(default, TENANT_VALIDATE_USER, token_of(default, TENANT_TOKEN_SCOPES))
        assert_document_shape(answer, "admin@foo.com", "test1 test2")

    def test_tenant_method_2_explicit_header(self, default):
        encoded = base64.b64encode(b"admin@foo.com:admin").decode()
        answer = curl(
            default,
            TENANT_VALIDATE_USER_HEADER,
            token_of(default, TENANT_TOKEN),
            **{"BASE64ENCODED(USERNAME@TENAND_DOMAIN:PASSWORD)": encoded, "TENANT_DOMAIN": "foo.com"},
        )
        assert_document_shape(answer, "admin@foo.com", None)

    @pytest.mark.parametrize("command", [SUPER_VALIDATE_USER, TENANT_VALIDATE_USER])
    def test_invalid_token(self, default, command):
        """ "Invalid token": the sample token, never issued here."""
        assert curl(default, command) == (200, {"active": False})

    def test_empty_token_sample(self, default):
        assert curl(default, SUPER_EMPTY) == (400, {"error": "Invalid input"})

    def test_empty_token_tenant_format(self, default):
        assert curl(default, TENANT_EMPTY, **PLACEHOLDERS) == (400, {"error": "Invalid input"})

    def test_other_tenants_token_is_inactive_by_default(self, default):
        """Cross-tenant validation "is disabled by default"."""
        assert curl(default, SUPER_VALIDATE_USER, token_of(default, TENANT_TOKEN)) == (200, {"active": False})

    def test_client_credentials_need_the_entry(self, default):
        status, body = curl(default, SUPER_VALIDATE_CLIENT, token_of(default, SUPER_TOKEN))
        assert status == 401
        assert "active" not in body


class TestClientCredentials:
    """The document's ``allowed_auth_handlers="BasicClientAuthentication"`` entry."""

    def test_super_tenant(self, clients):
        answer = curl(clients, SUPER_VALIDATE_CLIENT, token_of(clients, SUPER_TOKEN))
        assert_document_shape(answer, "admin@carbon.super", None)

    def test_super_tenant_with_scopes(self, clients):
        answer = curl(clients, SUPER_VALIDATE_CLIENT, token_of(clients, SUPER_TOKEN_SCOPES))
        assert_document_shape(answer, "admin@carbon.super", "test1 test2")

    def test_tenant(self, clients):
        answer = curl(clients, TENANT_VALIDATE_CLIENT, token_of(clients, TENANT_TOKEN))
        assert_document_shape(answer, "admin@foo.com", None)

    def test_tenant_with_scopes(self, clients):
        answer = curl(clients, TENANT_VALIDATE_CLIENT, token_of(clients, TENANT_TOKEN_SCOPES))
        assert_document_shape(answer, "admin@foo.com", "test1 test2")

    @pytest.mark.parametrize("command", [SUPER_VALIDATE_CLIENT, TENANT_VALIDATE_CLIENT])
    def test_invalid_token(self, clients, command):
        assert curl(clients, command) == (200, {"active": False})

    def test_users_are_no_longer_accepted(self, clients):
        """The entry names only BasicClientAuthentication."""
        status, body = curl(clients, SUPER_VALIDATE_USER, token_of(clients, SUPER_TOKEN))
        assert status == 401
        assert body["error"] == "invalid_client"

    def test_empty_token_from_a_client(self, clients):
        command = SUPER_VALIDATE_CLIENT.replace(f"'token={SAMPLE_TOKEN}'", "'token='")
        assert curl(clients, command) == (400, {"error": "Invalid input"})


class TestPermissionsSnippet:
    """The document's ``[resource_access_control.introspect] permissions`` snippet lets users
    holding ``/permission/admin/login`` validate tokens."""

    LOGIN_ONLY = SUPER_VALIDATE_USER.replace("-u admin:admin", "-u loginonly:loginonly-pw")

    def create_login_only_user(self, server) -> None:
        server.manage(
            "createuser", "--tenant", "carbon.super", "loginonly", "--password", "loginonly-pw",
            "--permission", "/permission/admin/login",
        )  # fmt: skip

    def test_refused_without_it(self, default):
        self.create_login_only_user(default)
        status, body = curl(default, self.LOGIN_ONLY, token_of(default, SUPER_TOKEN))
        assert status == 403
        assert "active" not in body

    def test_accepted_with_it(self, any_token):
        self.create_login_only_user(any_token)
        status, body = curl(any_token, self.LOGIN_ONLY, token_of(any_token, SUPER_TOKEN))
        assert status == 200
        assert body["active"] is True


class TestAllowCrossTenant:
    """The document's ``[oauth.introspect] allow_cross_tenant = true``: a foo.com token at the
    super tenant's endpoint (with its ``app_configured`` subject snippet too)."""

    def test_tenant_token_at_the_super_tenant(self, any_token):
        status, body = curl(any_token, SUPER_VALIDATE_USER, token_of(any_token, TENANT_TOKEN_SCOPES))
        assert status == 200
        assert body["active"] is True
        assert body["iss"].endswith("/t/foo.com")
        assert body["scope"] == "test1 test2"
        # app_configured, and the demo client has both subject flags off (docs/introspection.md#the-subject-
        # identifier).
        assert (body["username"], body["sub"]) == ("admin", CLIENT_ID)

    def test_callers_still_of_the_path_tenant(self, any_token):
        """Gate 1 is not opened by allow_cross_tenant: admin@foo.com is refused at the super tenant."""
        command = SUPER_VALIDATE_USER.replace("-u admin:admin", "-u admin@foo.com:admin")
        status, _ = curl(any_token, command, token_of(any_token, SUPER_TOKEN))
        assert status == 401


class TestCrossTenantClients:
    """The document's ``cross_tenant = true`` / ``cross_access_allowed_tenants="carbon.super"``
    entry: a super-tenant client validates a foo.com token at foo.com's path with ``appTenant``."""

    def with_app_tenant(self, domain: str) -> str:
        return TENANT_VALIDATE_CLIENT.replace("/oauth2/introspect", f"/oauth2/introspect?appTenant={domain}")

    def test_super_tenant_client_at_the_tokens_tenant(self, cross_clients):
        token = token_of(cross_clients, TENANT_TOKEN_SCOPES)
        answer = curl(cross_clients, self.with_app_tenant("carbon.super"), token)
        assert_document_shape(answer, "admin@foo.com", "test1 test2")

    def test_tenant_client_without_app_tenant(self, cross_clients):
        answer = curl(cross_clients, TENANT_VALIDATE_CLIENT, token_of(cross_clients, TENANT_TOKEN))
        assert_document_shape(answer, "admin@foo.com", None)

    def test_super_tenant_token_stays_inactive_at_foo(self, cross_clients):
        """Gate 3: the token must be of the path's tenant (allow_cross_tenant is off)."""
        token = token_of(cross_clients, SUPER_TOKEN)
        assert curl(cross_clients, self.with_app_tenant("carbon.super"), token) == (200, {"active": False})

    def test_other_tenants_are_not_in_the_list(self, cross_clients):
        """Only carbon.super callers may cross: a foo.com client at the super tenant is refused."""
        command = SUPER_VALIDATE_CLIENT.replace("/oauth2/introspect", "/oauth2/introspect?appTenant=foo.com")
        status, body = curl(cross_clients, command, token_of(cross_clients, SUPER_TOKEN))
        assert status == 401
        assert "active" not in body

    def test_unknown_app_tenant(self, cross_clients):
        status, _ = curl(
            cross_clients, self.with_app_tenant("nosuch.org"), token_of(cross_clients, TENANT_TOKEN)
        )
        assert status == 401


class TestServerLog:
    """docs/introspection.md#the-request, docs/security.md: none of the tokens above, nor one sent in a GET
    query string, is in a server log."""

    def test_get_with_the_token_in_the_query_string(self, default):
        token = token_of(default, SUPER_TOKEN)
        for user in ("admin:admin", "admin:wrong"):
            done = subprocess.run(
                ["curl", "-sk", "-u", user, f"{default.base_url}/oauth2/introspect?token={token}"],
                capture_output=True,
                timeout=60,
            )
            assert done.returncode == 0

    @pytest.mark.parametrize("name", ["default", "clients", "any_token", "cross_clients"])
    def test_no_token_in_the_log(self, request, name):
        server = request.getfixturevalue(name)
        log = server.written_log()
        assert "Booting worker" in log  # the log is the server's
        issued = ISSUED.get(server.port, [])
        assert issued
        assert [token for token in issued if token in log] == []
