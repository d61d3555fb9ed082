"""World and callers shared by the management API's tests (docs/api.md).

Tenants ``carbon.super`` and ``foo.com`` come from the demo data, ``bar.com`` is made here.
Each of foo.com and bar.com has its admin (``admin``/``admin``, ``admin``/``bar-admin``), a
user holding only ``applicationmgt/view`` and a ``mgmt`` client (client_credentials, owned by
the admin, allowed every API scope) whose tokens are the Bearer callers.
"""

from __future__ import annotations

import json

from identity.api.permissions import API_SCOPES
from tests.support.auth import basic_auth
from tests.support.jwt import prefix

MGMT_SECRET = "mgmt-secret-0123456789abcdef"
VIEW_APPS = "/permission/admin/manage/identity/applicationmgt/view"
PASSWORDS = {"carbon.super": "admin", "foo.com": "admin", "bar.com": "bar-admin"}


def admin_of(domain: str) -> dict[str, str]:
    return basic_auth(f"admin@{domain}", PASSWORDS[domain])


def mgmt_bearer(http, domain: str, scope: str = " ".join(sorted(API_SCOPES)), **grant) -> dict[str, str]:
    """Return the Authorization header of a token of ``domain``'s mgmt client."""
    data = {"grant_type": "client_credentials", "scope": scope, **grant}
    response = http.post(
        f"{prefix(domain)}/oauth2/token", data, secure=True, headers=basic_auth("mgmt", MGMT_SECRET)
    )
    assert response.status_code == 200, response.content
    return {"Authorization": "Bearer " + response.json()["access_token"]}


def call(http, method: str, domain: str, path: str, headers: dict, body=None):
    """Send ``method`` to ``domain``'s API at ``path`` (relative to api/v1/), JSON body."""
    kwargs = {"secure": True, "headers": headers}
    if body is not None:
        kwargs |= {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(http, method.lower())(f"{prefix(domain)}/api/v1/{path}", **kwargs)
