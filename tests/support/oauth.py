"""Data and requests shared by the OAuth core's tests (docs/clients-and-grants.md).

The world is the demo data (docs/quickstart.md: ``bootstrap()``: tenants ``carbon.super`` and ``foo.com``,
each with ``admin``/``admin`` and the WSO2 document's client) plus a third tenant, a few users
and a client per concern. Requests go through Django's test client, over "HTTPS".
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from identity.bootstrap import DEMO_CLIENT
from identity.models import AccessToken, RefreshToken
from identity.models.tokens import token_checksum
from tests.support.auth import basic_auth

DEMO = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)
ALICE = ("alice", "alice-pw")  # a user of foo.com
REDIRECT_URI = "https://app.example/callback"
TOKEN_PATHS = {"carbon.super": "/oauth2/token", "foo.com": "/t/foo.com/oauth2/token"}


def prefix(domain: str) -> str:
    """The path prefix of ``domain``: none for the super tenant (docs/architecture.md)."""
    return "" if domain == "carbon.super" else f"/t/{domain}"


def token_request(client, path: str, data: dict, credentials: tuple[str, str] | None = None):
    """POST ``data`` to ``path``, authenticating with HTTP Basic when ``credentials`` are given."""
    return client.post(path, data, secure=True, headers=basic_auth(*credentials) if credentials else {})


def issue(client, tenant: str, data: dict, credentials: tuple[str, str] = DEMO) -> dict:
    """Return the body of a successful token response at ``tenant``'s endpoint."""
    response = token_request(client, f"{prefix(tenant)}/oauth2/token", data, credentials)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def password_grant(client, tenant: str = "foo.com", user: tuple[str, str] = ALICE, **extra) -> dict:
    """Return the body of a password grant's token response (the demo client's)."""
    data = {"grant_type": "password", "username": user[0], "password": user[1], **extra}
    return issue(client, tenant, data)


def refresh_grant(client, refresh_token: str, tenant: str = "foo.com", **extra):
    """Return the response to a refresh_token grant of the demo client."""
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return token_request(client, TOKEN_PATHS[tenant], data, DEMO)


def revoke(client, token: str, credentials: tuple[str, str] | None = DEMO, tenant: str = "foo.com", **extra):
    """POST ``token`` to ``tenant``'s revocation endpoint (RFC 7009 §2.1)."""
    return token_request(client, f"{prefix(tenant)}/oauth2/revoke", {"token": token, **extra}, credentials)


def stored(access_token: str) -> AccessToken:
    """Return the row recorded for ``access_token`` (whatever its tenant)."""
    return AccessToken.objects.all_tenants().get(token_checksum=token_checksum(access_token))


def stored_refresh(refresh_token: str) -> RefreshToken:
    return RefreshToken.objects.all_tenants().get(token_checksum=token_checksum(refresh_token))


def error_of(response, status: int = 400) -> str:
    """Check an RFC 6749 §5.2 error response and return its ``error`` code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert set(body) <= {"error", "error_description", "error_uri"}
    return body["error"]


def pkce_pair() -> tuple[str, str]:
    """Return (code_verifier, S256 code_challenge) of RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def sign_in(client, tenant_prefix: str, username: str, password: str, next_url: str = ""):
    """Post the tenant login page's form (``tenant_prefix`` is '' or '/t/<domain>')."""
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(f"{tenant_prefix}/login/", data, secure=True)


def authorize(client, client_id: str, challenge: str, **extra) -> str:
    """Ask foo.com's authorization endpoint for a code and consent; return the code.

    The user must be signed in at foo.com already. A parameter given as None is left out
    (``redirect_uri=None``: the client's registered one is used).
    """
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
        **extra,
    }
    query = urlencode({name: value for name, value in params.items() if value is not None})
    response = client.get(f"/t/foo.com/oauth2/authorize?{query}", secure=True)
    assert response.status_code == 200, response.content
    form = {key: value for key, value in response.context["form"].initial.items() if value is not None}
    response = client.post(
        f"/t/foo.com/oauth2/authorize?{query}", {**form, "allow": "Authorize"}, secure=True
    )
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    params = parse_qs(location.query)
    assert params["state"] == ["xyz"]
    return params["code"][0]


def exchange_code(
    client, code: str, verifier: str, credentials: tuple[str, str], redirect_uri: str | None = REDIRECT_URI
):
    """Redeem ``code`` at foo.com's token endpoint (without ``redirect_uri`` when it is None)."""
    data = {"grant_type": "authorization_code", "code": code}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    if verifier:
        data["code_verifier"] = verifier
    return token_request(client, TOKEN_PATHS["foo.com"], data, credentials)
