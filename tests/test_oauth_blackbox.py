"""The token endpoint of the real server (gunicorn, TLS, demo data), as the WSO2 document and an
OAuth library use it (docs/quickstart.md, docs/clients-and-grants.md, docs/security.md)."""

from __future__ import annotations

import json
import subprocess

import pytest
from authlib.integrations.requests_client import OAuth2Session

from identity.bootstrap import DEMO_CLIENT

pytestmark = pytest.mark.blackbox

CLIENT_ID, CLIENT_SECRET = DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret
TENANT_PREFIXES = {"carbon.super": "", "foo.com": "/t/foo.com"}


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


@pytest.fixture(scope="module")
def seen():
    """Every token and secret the tests saw; none may appear in the server's log."""
    return {CLIENT_SECRET}


def curl_token(server, prefix: str, data: str) -> dict:
    """Run the WSO2 document's token command as written, at this server's port."""
    done = subprocess.run(
        [
            "curl", "-v", "-X", "POST", "--basic",
            "-u", f"{CLIENT_ID}:{CLIENT_SECRET}",
            "-H", "Content-Type: application/x-www-form-urlencoded;charset=UTF-8",
            "-k", "-d", data,
            f"https://localhost:{server.port}{prefix}/oauth2/token",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )  # fmt: skip
    assert "< HTTP/1.1 200" in done.stderr or "< HTTP/2 200" in done.stderr, done.stderr
    return json.loads(done.stdout)


class TestWso2DocumentCurls:
    """ "Get a valid token (without scopes)" and "(with scopes)", super tenant and tenant."""

    @pytest.mark.parametrize("tenant", TENANT_PREFIXES)
    def test_without_scopes(self, server, seen, tenant):
        body = curl_token(server, TENANT_PREFIXES[tenant], "grant_type=client_credentials")
        seen.add(body["access_token"])
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)

    @pytest.mark.parametrize("tenant", TENANT_PREFIXES)
    def test_with_scopes(self, server, seen, tenant):
        # The document's -d value has a raw space: curl sends it as is.
        body = curl_token(server, TENANT_PREFIXES[tenant], "grant_type=client_credentials&scope=test1 test2")
        seen.add(body["access_token"])
        assert set(body) == {"access_token", "scope", "token_type", "expires_in"}
        assert (body["scope"], body["token_type"], body["expires_in"]) == ("test1 test2", "Bearer", 3600)

    @pytest.mark.parametrize("tenant", TENANT_PREFIXES)
    def test_token_is_its_tenants_only(self, server, seen, tenant):
        """The same client id and secret in both tenants (docs/quickstart.md): revoking at the other tenant's
        endpoint does nothing (RFC 7009: 200 anyway); at its own, the token is inactive at once."""
        token = curl_token(server, TENANT_PREFIXES[tenant], "grant_type=client_credentials")["access_token"]
        seen.add(token)
        other = "foo.com" if tenant == "carbon.super" else "carbon.super"
        prefix = TENANT_PREFIXES[tenant]
        admin = "admin" if tenant == "carbon.super" else f"admin@{tenant}"

        def active() -> bool:
            response = server.post(
                f"{prefix}/oauth2/introspect", data={"token": token}, auth=(admin, "admin")
            )
            assert response.status_code == 200, response.text
            return response.json()["active"]

        for revoke_at, still_active in ((TENANT_PREFIXES[other], True), (prefix, False)):
            response = server.post(
                f"{revoke_at}/oauth2/revoke", data={"token": token}, auth=(CLIENT_ID, CLIENT_SECRET)
            )
            assert response.status_code == 200
            assert active() is still_active


def session(**kwargs) -> OAuth2Session:
    return OAuth2Session(CLIENT_ID, CLIENT_SECRET, **kwargs)


class TestAuthlib:
    """A standard OAuth 2.0 client library gets tokens from both tenants."""

    @pytest.mark.parametrize("tenant", TENANT_PREFIXES)
    @pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
    def test_client_credentials(self, server, seen, tenant, auth_method):
        oauth = session(scope="test1 internal_oauth2_introspect", token_endpoint_auth_method=auth_method)
        url = f"{server.base_url}{TENANT_PREFIXES[tenant]}/oauth2/token"
        token = oauth.fetch_token(url, grant_type="client_credentials", verify=server.cert)
        seen.add(token["access_token"])
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "test1 internal_oauth2_introspect"
        assert token["expires_in"] == 3600
        assert "refresh_token" not in token

    @pytest.mark.parametrize("tenant", TENANT_PREFIXES)
    def test_password_and_refresh(self, server, seen, tenant):
        url = f"{server.base_url}{TENANT_PREFIXES[tenant]}/oauth2/token"
        oauth = session(scope="test1")
        token = oauth.fetch_token(url, username="admin", password="admin", verify=server.cert)
        seen.update((token["access_token"], token["refresh_token"]))
        assert (token["token_type"], token["scope"], token["expires_in"]) == ("Bearer", "test1", 3600)

        refreshed = oauth.refresh_token(url, refresh_token=token["refresh_token"], verify=server.cert)
        seen.update((refreshed["access_token"], refreshed["refresh_token"]))
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert refreshed["scope"] == "test1"

    def test_qualified_username_at_its_tenant(self, server, seen):
        url = f"{server.base_url}/t/foo.com/oauth2/token"
        token = session().fetch_token(url, username="admin@foo.com", password="admin", verify=server.cert)
        seen.update((token["access_token"], token["refresh_token"]))

    @pytest.mark.parametrize(
        ("prefix", "username"),
        [("/t/foo.com", "admin@carbon.super"), ("", "admin@foo.com")],
    )
    def test_user_of_another_tenant_is_refused(self, server, prefix, username):
        response = server.post(
            f"{prefix}/oauth2/token",
            data={"grant_type": "password", "username": username, "password": "admin"},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


class TestLog:
    """docs/security.md: the server's log holds none of the tokens or secrets it handed out or was shown."""

    def test_no_token_or_secret_in_the_log(self, server, seen):
        # Traffic of its own (so the test stands alone), on top of what the tests above saw.
        for prefix in TENANT_PREFIXES.values():
            url = f"{server.base_url}{prefix}/oauth2/token"
            seen.add(curl_token(server, prefix, "grant_type=client_credentials&scope=test1")["access_token"])
            token = session(scope="test2").fetch_token(
                url, username="admin", password="admin", verify=server.cert
            )
            seen.update((token["access_token"], token["refresh_token"]))
            refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
            rotated = server.post(f"{prefix}/oauth2/token", data=refresh, auth=(CLIENT_ID, CLIENT_SECRET))
            seen.update((rotated.json()["access_token"], rotated.json()["refresh_token"]))
            # A replay: refused, and logged as a bad request.
            replay = server.post(f"{prefix}/oauth2/token", data=refresh, auth=(CLIENT_ID, CLIENT_SECRET))
            assert replay.status_code == 400
        log = server.written_log()
        assert "Bad Request: /t/foo.com/oauth2/token" in log  # the refused requests were logged
        assert [value for value in seen if value in log] == []
