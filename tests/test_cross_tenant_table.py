"""The cross-tenant decision table of docs/cross-tenant.md (docs/introspection.md#the-gates), row
by row.

Every row runs in-process, under its configuration's deployment.toml sections; the rows of the
shipped configuration ("default") run again against one real server (gunicorn, TLS, the
configuration read from its file), which must decide them the same way.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.test import Client as HttpClient

from deployment import REPO_ROOT
from identity.bootstrap import bootstrap
from identity.provisioning import create_tenant, create_user
from identity.services.clients import ClientSpec, create_client
from tenants.models import Tenant
from tests.support.auth import basic
from tests.support.introspection import configured
from tests.support.jwt import issuer_of

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


class Callers:
    """The table's tokens and callers of one deployment, got from its token endpoint."""

    def __init__(self, token_of):
        """``token_of(tenant, form)`` returns the demo client's token response at ``tenant``."""
        self.tokens: dict[tuple[str, str], str] = {}  # (kind, tenant) -> raw token
        self.bearers: dict[tuple[str, bool], str] = {}  # (tenant, with scope?) -> raw token
        for tenant, login in (("carbon.super", "admin"), ("foo.com", "admin")):
            self.tokens[("access", tenant)] = token_of(tenant, "grant_type=client_credentials")[
                "access_token"
            ]
            password_grant = token_of(tenant, f"grant_type=password&username={login}&password=admin")
            self.tokens[("refresh", tenant)] = password_grant["refresh_token"]
            for with_scope, scope in ((True, "internal_oauth2_introspect"), (False, "test1")):
                grant = token_of(tenant, f"grant_type=client_credentials&scope={scope}")
                self.bearers[(tenant, with_scope)] = grant["access_token"]

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

    def form(self, caller: str, app_tenant: str, path: str, kind: str, token_tenant: str) -> dict[str, str]:
        """The introspection request of a row, its caller checked against the row."""
        if caller.startswith("client") and caller != "client bar.com":
            # The demo client exists in both tenants with one secret: which one calls is decided
            # by appTenant, else by the path, and the row must say the same.
            assert caller.split()[1] == (app_tenant or path)
        data = {"token": self.tokens[(kind, token_tenant)]}
        if kind == "refresh":
            data["token_type_hint"] = "refresh_token"
        if app_tenant:
            data["appTenant"] = app_tenant
        return data


def check_answer(status: int, body: dict, kind: str, token_tenant: str, answer: str, issuer: str) -> None:
    """Check an introspection answer against the row's: 401/403 without ``active``, or the token
    active (with its type and its tenant's ``issuer``) or inactive."""
    if answer in ("401", "403"):
        assert status == int(answer), body
        assert "active" not in body
        return
    assert status == 200, body
    if answer == "inactive":
        assert body == {"active": False}
    else:
        assert body["active"] is True
        assert body["token_type"] == ("Refresh" if kind == "refresh" else "Bearer")
        assert body["iss"] == issuer


ROW_FIELDS = ("configuration", "caller", "app_tenant", "path", "kind", "token_tenant", "answer", "gate")


@pytest.fixture(scope="module")
def world(build_once):
    """The demo data, bar.com with its client, and a foo.com user without permission."""

    def make():
        bootstrap()
        bar = create_tenant("bar.com", admin_username="admin", admin_password="admin")
        create_client(
            bar,
            ClientSpec(
                name="bar",
                client_id=BAR_CLIENT[0],
                client_secret=BAR_CLIENT[1],
                grant_types=["client_credentials"],
            ),
        )
        create_user(Tenant.objects.get(domain="foo.com"), "viewer", "viewer-password")
        http = HttpClient()

        def token_of(tenant: str, form: str) -> dict:
            response = http.post(
                TOKEN_PATHS[tenant],
                form,
                content_type="application/x-www-form-urlencoded",
                secure=True,
                headers={"Authorization": basic(*DEMO_CLIENT)},
            )
            assert response.status_code == 200, response.content
            return response.json()

        return SimpleNamespace(callers=Callers(token_of))

    return build_once(make)


@pytest.mark.django_db
@pytest.mark.parametrize(ROW_FIELDS, ROWS)
def test_decision(
    client,
    world,
    deployment_override,
    configuration,
    caller,
    app_tenant,
    path,
    kind,
    token_tenant,
    answer,
    gate,
):
    given = configured(CONFIGURATIONS[configuration])
    deployment_override(resource=given.resource, oauth=given.oauth)
    callers = world.callers
    response = client.post(
        PATHS[path],
        callers.form(caller, app_tenant, path, kind, token_tenant),
        secure=True,
        headers={"Authorization": callers.authorization(caller)},
    )
    check_answer(response.status_code, response.json(), kind, token_tenant, answer, issuer_of(token_tenant))


@pytest.fixture(scope="module")
def real_server(demo_server):
    """One real server of the shipped configuration, with the default rows' users and tokens."""
    server = demo_server
    server.manage("createuser", "viewer", "--tenant", "foo.com", "--password", "viewer-password")

    def token_of(tenant: str, form: str) -> dict:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        response = server.post(TOKEN_PATHS[tenant], data=form, auth=DEMO_CLIENT, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    return SimpleNamespace(server=server, callers=Callers(token_of))


@pytest.mark.blackbox
@pytest.mark.parametrize(ROW_FIELDS, [row for row in ROWS if row[0] == "default"])
def test_decision_on_the_real_server(
    real_server, configuration, caller, app_tenant, path, kind, token_tenant, answer, gate
):
    server, callers = real_server.server, real_server.callers
    response = server.post(
        PATHS[path],
        data=callers.form(caller, app_tenant, path, kind, token_tenant),
        headers={"Authorization": callers.authorization(caller)},
    )
    issuer = server.base_url + ("" if token_tenant == "carbon.super" else f"/t/{token_tenant}")
    check_answer(response.status_code, response.json(), kind, token_tenant, answer, issuer)


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
