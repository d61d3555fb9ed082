"""The cross-tenant decision table of docs/cross-tenant.md (docs/introspection.md#the-gates), row by row,
against
real servers started with each row's configuration."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

import pytest

from deployment import REPO_ROOT

pytestmark = pytest.mark.blackbox

DEMO_CLIENT = ("rgfKVdnMQnJSSr_pKFTxj3apiwYa", "BRebJ0aqfclQB9v7yZwhj0JfW0ga")
BAR_CLIENT = ("bar-client", "bar-secret-0123456789abcdef")
PATHS = {"carbon.super": "/oauth2/introspect", "foo.com": "/t/foo.com/oauth2/introspect"}
TOKEN_PATHS = {"carbon.super": "/oauth2/token", "foo.com": "/t/foo.com/oauth2/token"}

CLIENT_ENTRY = """
[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
http_method = "all"
secure = true
allowed_auth_handlers = "BasicClientAuthentication"
"""
ANY_TOKEN = "\n[oauth.introspect]\nallow_cross_tenant = true\n"
CONFIGURATIONS = {
    "default": "",
    "clients": CLIENT_ENTRY,
    "clients+cross": CLIENT_ENTRY + "cross_tenant = true\n",
    "clients+cross+super": CLIENT_ENTRY
    + 'cross_tenant = true\ncross_access_allowed_tenants = "carbon.super"\n',
    "clients+cross+any-token": CLIENT_ENTRY + "cross_tenant = true\n" + ANY_TOKEN,
    "default+any-token": ANY_TOKEN,
}

# configuration, caller, appTenant, P, token kind, T, answer, deciding gate: the table of
# docs/cross-tenant.md, which test_the_documented_table_is_this_one keeps identical.
ROWS = [
    ("default", "user carbon.super", "", "carbon.super", "access", "carbon.super", "active", ""),
    ("default", "user foo.com", "", "foo.com", "access", "foo.com", "active", ""),
    ("default", "user carbon.super", "", "foo.com", "access", "foo.com", "401", "1"),
    ("default", "user foo.com", "", "carbon.super", "access", "carbon.super", "401", "1"),
    ("default", "user foo.com", "", "foo.com", "access", "carbon.super", "inactive", "3"),
    ("default", "user foo.com", "", "foo.com", "refresh", "carbon.super", "inactive", "3"),
    ("default", "user foo.com", "", "foo.com", "refresh", "foo.com", "active", ""),
    ("default", "user foo.com without permission", "", "foo.com", "access", "foo.com", "403", "2"),
    ("default", "bearer foo.com with scope", "", "foo.com", "access", "foo.com", "active", ""),
    ("default", "bearer foo.com without scope", "", "foo.com", "access", "foo.com", "403", "2"),
    ("default", "bearer carbon.super with scope", "", "foo.com", "access", "foo.com", "401", "1"),
    ("default", "client carbon.super", "", "carbon.super", "access", "carbon.super", "401", "handler"),
    ("clients", "client carbon.super", "", "carbon.super", "access", "carbon.super", "active", ""),
    ("clients", "client foo.com", "", "foo.com", "access", "foo.com", "active", ""),
    ("clients", "client carbon.super", "carbon.super", "foo.com", "access", "foo.com", "401", "1"),
    ("clients", "client carbon.super", "", "carbon.super", "access", "foo.com", "inactive", "3"),
    ("clients", "user carbon.super", "", "carbon.super", "access", "carbon.super", "401", "handler"),
    ("clients+cross", "client carbon.super", "carbon.super", "foo.com", "access", "foo.com", "active", ""),
    ("clients+cross", "client carbon.super", "carbon.super", "foo.com", "refresh", "foo.com", "active", ""),
    ("clients+cross", "client bar.com", "bar.com", "foo.com", "access", "foo.com", "active", ""),
    ("clients+cross", "client carbon.super", "", "carbon.super", "access", "foo.com", "inactive", "3"),
    (
        "clients+cross",
        "client carbon.super",
        "carbon.super",
        "foo.com",
        "access",
        "carbon.super",
        "inactive",
        "3",
    ),
    (
        "clients+cross+super",
        "client carbon.super",
        "carbon.super",
        "foo.com",
        "access",
        "foo.com",
        "active",
        "",
    ),
    ("clients+cross+super", "client bar.com", "bar.com", "foo.com", "access", "foo.com", "401", "1"),
    ("clients+cross+any-token", "client carbon.super", "", "carbon.super", "access", "foo.com", "active", ""),
    (
        "clients+cross+any-token",
        "client carbon.super",
        "",
        "carbon.super",
        "refresh",
        "foo.com",
        "active",
        "",
    ),
    ("default+any-token", "user foo.com", "", "foo.com", "access", "carbon.super", "active", ""),
    ("default+any-token", "user carbon.super", "", "foo.com", "access", "foo.com", "401", "1"),
]


def basic(name: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


@dataclass
class Deployment:
    """A running server of one configuration, with its tokens and callers."""

    server: object
    tokens: dict = field(default_factory=dict)  # (kind, tenant) -> raw token
    bearers: dict = field(default_factory=dict)  # (tenant, with scope?) -> raw token

    def token(self, tenant: str, data: str) -> dict:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        response = self.server.post(TOKEN_PATHS[tenant], data=data, auth=DEMO_CLIENT, headers=form)
        assert response.status_code == 200, response.text
        return response.json()

    def authorization(self, caller: str) -> str:
        if caller.startswith("bearer"):
            tenant = caller.split()[1]
            return "Bearer " + self.bearers[(tenant, caller.endswith("with scope"))]
        if caller == "client bar.com":
            return basic(*BAR_CLIENT)
        if caller.startswith("client"):
            return basic(*DEMO_CLIENT)
        if caller == "user foo.com without permission":
            return basic("viewer@foo.com", "viewer-password")
        return basic("admin" if caller == "user carbon.super" else "admin@foo.com", "admin")


@pytest.fixture(scope="module")
def deployments(server_factory):
    """Start each configuration's server on first use."""
    started: dict[str, Deployment] = {}

    def get(name: str) -> Deployment:
        if name not in started:
            server = server_factory("[demo]\nenabled = true\n" + CONFIGURATIONS[name])
            server.manage("createtenant", "bar.com", "--admin", "admin", "--password", "admin")
            server.manage(
                "createclient", "--tenant", "bar.com", "--name", "bar", "--grant-types", "client_credentials",
                "--client-id", BAR_CLIENT[0], "--client-secret", BAR_CLIENT[1],
            )  # fmt: skip
            server.manage("createuser", "viewer", "--tenant", "foo.com", "--password", "viewer-password")
            deployment = Deployment(server)
            for tenant, login in (("carbon.super", "admin"), ("foo.com", "admin")):
                deployment.tokens[("access", tenant)] = deployment.token(
                    tenant, "grant_type=client_credentials"
                )["access_token"]
                password_grant = deployment.token(
                    tenant, f"grant_type=password&username={login}&password=admin"
                )
                deployment.tokens[("refresh", tenant)] = password_grant["refresh_token"]
                for with_scope, scope in ((True, "internal_oauth2_introspect"), (False, "test1")):
                    grant = deployment.token(tenant, f"grant_type=client_credentials&scope={scope}")
                    deployment.bearers[(tenant, with_scope)] = grant["access_token"]
            started[name] = deployment
        return started[name]

    return get


@pytest.mark.parametrize(
    ("configuration", "caller", "app_tenant", "path", "kind", "token_tenant", "answer", "gate"), ROWS
)
def test_decision(deployments, configuration, caller, app_tenant, path, kind, token_tenant, answer, gate):
    deployment = deployments(configuration)
    if caller.startswith("client") and caller != "client bar.com":
        # The demo client exists in both tenants with one secret: which one calls is decided
        # by appTenant, else by the path, and the row must say the same.
        assert caller.split()[1] == (app_tenant or path)
    data = {"token": deployment.tokens[(kind, token_tenant)]}
    if kind == "refresh":
        data["token_type_hint"] = "refresh_token"
    if app_tenant:
        data["appTenant"] = app_tenant
    response = deployment.server.post(
        PATHS[path], data=data, headers={"Authorization": deployment.authorization(caller)}
    )
    if answer in ("401", "403"):
        assert response.status_code == int(answer), response.text
        assert "active" not in response.json()
        return
    assert response.status_code == 200, response.text
    body = response.json()
    if answer == "inactive":
        assert body == {"active": False}
    else:
        assert body["active"] is True
        assert body["token_type"] == ("Refresh" if kind == "refresh" else "Bearer")
        issuer_path = "" if token_tenant == "carbon.super" else f"/t/{token_tenant}"
        assert body["iss"] == deployment.server.base_url + issuer_path


def test_the_documented_table_is_this_one():
    """docs/cross-tenant.md and ROWS list the same cases, in the same order."""
    text = (REPO_ROOT / "docs" / "cross-tenant.md").read_text()
    table = text.split("## The table", 1)[1]
    documented = []
    for line in table.splitlines():
        if not line.startswith("| ") or line.startswith("| configuration") or re.match(r"^\|[-| ]+\|$", line):
            continue
        documented.append(tuple(cell.strip() for cell in line.strip().strip("|").split("|")))
    assert documented == ROWS
