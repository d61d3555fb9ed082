"""The browser-only middleware runs for the admin and login pages and is skipped on the machine
endpoints (identity/browser_middleware.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from identity.browser_middleware import is_machine_path
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(introspection_world)


@pytest.mark.parametrize(
    ("path", "machine"),
    [
        ("/oauth2/introspect", True),
        ("/t/foo.com/oauth2/introspect", True),
        ("/oauth2/token", True),
        ("/oauth2/revoke", True),
        ("/oauth2/jwks", True),
        ("/.well-known/openid-configuration", True),
        ("/admin/login/", False),
        ("/t/foo.com/oauth2/authorize", False),
        ("/login/", False),
    ],
)
def test_which_paths_skip_it(client, world, path, machine):
    response = client.get(path, secure=True)
    # XFrameOptionsMiddleware sets this header on every response it sees.
    assert ("X-Frame-Options" in response.headers) is not machine


def test_a_machine_request_touches_no_session(client, world):
    response = client.post("/oauth2/introspect", {"token": "x"}, secure=True)
    assert "sessionid" not in response.cookies
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "user")


def test_csrf_still_guards_the_admin_login(world):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/admin/login/", {"username": "admin", "password": "admin"}, secure=True)
    assert response.status_code == 403


def test_the_path_is_taken_after_the_tenant_prefix(rf):
    request = rf.get("/t/foo.com/oauth2/token")
    request.path_info = "/oauth2/token"
    assert is_machine_path(request)
