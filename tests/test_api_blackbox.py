"""The management API and dynamic client registration against the real server (gunicorn,
TLS, demo data), as curl and an OAuth library use them (docs/api.md)."""

from __future__ import annotations

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7591 import ClientMetadataClaims

pytestmark = pytest.mark.blackbox

ADMIN = ("admin@foo.com", "admin")
API = "/t/foo.com/api/v1"


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


@pytest.fixture(scope="module")
def seen():
    """Every token and secret the tests saw; none may appear in the server's log."""
    return set()


def management_client(server, seen, name: str, scopes: list[str]) -> tuple[str, str]:
    created = server.post(
        f"{API}/clients",
        auth=ADMIN,
        json={"name": name, "grant_types": ["client_credentials"], "scopes": scopes},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    seen.add(body["client_secret"])
    return body["client_id"], body["client_secret"]


def introspect(server, token: str) -> dict:
    response = server.post("/t/foo.com/oauth2/introspect", auth=ADMIN, data={"token": token})
    assert response.status_code == 200
    return response.json()


def test_a_tenant_is_managed_end_to_end(server, seen):
    """Create a client by API, get a token with it, introspect, revoke, rotate a key, lock a user."""
    client_id, secret = management_client(server, seen, "reports", ["reports"])
    token = server.post(
        "/t/foo.com/oauth2/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "scope": "reports"},
    ).json()["access_token"]
    seen.add(token)
    assert introspect(server, token)["active"] is True
    [row] = server.get(f"{API}/tokens", auth=ADMIN, params={"client_id": client_id}).json()["results"]
    assert server.post(f"{API}/tokens/{row['jti']}/revoke", auth=ADMIN).json()["state"] == "revoked"
    assert introspect(server, token) == {"active": False}

    old_kids = {key["kid"] for key in server.get("/t/foo.com/oauth2/jwks").json()["keys"]}
    rotated = server.post(f"{API}/keys/rotate", auth=ADMIN, json={})
    assert rotated.status_code == 201
    assert {key["kid"] for key in server.get("/t/foo.com/oauth2/jwks").json()["keys"]} == old_kids | {
        rotated.json()["kid"]
    }

    created = server.post(f"{API}/users", auth=ADMIN, json={"username": "carol", "password": "carol-pw"})
    assert created.status_code == 201, created.text
    demo = ("rgfKVdnMQnJSSr_pKFTxj3apiwYa", "BRebJ0aqfclQB9v7yZwhj0JfW0ga")
    user_token = server.post(
        "/t/foo.com/oauth2/token",
        auth=demo,
        data={"grant_type": "password", "username": "carol", "password": "carol-pw"},
    ).json()["access_token"]
    seen.add(user_token)
    assert server.post(f"{API}/users/carol/lock", auth=ADMIN).json()["is_locked"] is True
    assert introspect(server, user_token) == {"active": False}


def test_an_authlib_client_registers_itself(server, seen):
    """RFC 7591 with a Bearer token carrying internal_application_mgt_create, then the
    registered client's own token, introspected, and its registration read back (RFC 7592)."""
    mgmt = OAuth2Session(*management_client(server, seen, "registrar", ["internal_application_mgt_create"]))
    token = mgmt.fetch_token(
        server.base_url + "/t/foo.com/oauth2/token",
        grant_type="client_credentials",
        scope="internal_application_mgt_create",
        verify=server.cert,
    )
    seen.add(token["access_token"])
    assert token["scope"] == "internal_application_mgt_create"
    metadata = {"client_name": "Self-registered", "grant_types": ["client_credentials"], "scope": "test1"}
    discovery = server.get("/t/foo.com/.well-known/openid-configuration").json()
    registered = mgmt.post(discovery["registration_endpoint"], json=metadata, verify=server.cert)
    assert registered.status_code == 201, registered.text
    info = registered.json()
    seen.update({info["client_secret"], info["registration_access_token"]})
    claims = ClientMetadataClaims(info, {})
    claims.validate()  # Authlib's own RFC 7591 §2 checks of what the server answered
    assert claims["client_name"] == "Self-registered" and claims["grant_types"] == ["client_credentials"]

    robot = OAuth2Session(info["client_id"], info["client_secret"], scope="test1")
    robot_token = robot.fetch_token(
        server.base_url + "/t/foo.com/oauth2/token", grant_type="client_credentials", verify=server.cert
    )
    seen.add(robot_token["access_token"])
    assert introspect(server, robot_token["access_token"])["client_id"] == info["client_id"]

    read = server.get(
        info["registration_client_uri"].removeprefix(server.base_url),
        headers={"Authorization": "Bearer " + info["registration_access_token"]},
    )
    assert read.status_code == 200 and read.json()["client_id"] == info["client_id"]


def test_no_token_or_secret_in_the_log(server, seen):
    log = server.written_log()
    assert seen and not [value for value in seen if value in log]
