"""Errors are JSON and input is limited at the API and OAuth endpoints (finding 10 of the security audit).

Before: a multipart body without a boundary got Django's HTML 400; ``charset=utf-16`` at the
introspection endpoint a 500; more than 1000 fields or a 2.5 MB body an HTML 400; the token
endpoint's 405 was HTML. Django's test client, over "HTTPS"; the real server's answers over TLS
are in test_security_blackbox.py.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from urllib.parse import urlencode

import pytest
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response

from identity.middleware import JsonErrorsMiddleware
from identity.oauth import discovery
from tests.support.auth import basic, basic_auth
from tests.support.oauth import DEMO
from tests.support.worlds import oauth_world
from tests.support.wsgi import send, server_application

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
ENDPOINTS = [
    "/oauth2/token",
    "/t/foo.com/oauth2/token",
    "/oauth2/revoke",
    "/t/foo.com/oauth2/revoke",
    "/oauth2/introspect",
    "/t/foo.com/oauth2/introspect",
]
MANY_FIELDS = urlencode({f"f{i}": "x" for i in range(1001)}).encode()
BIG = b"token=" + b"x" * (2_500_000)

# content type, body, the status and error expected at every form endpoint
BAD_BODIES = [
    ("multipart/form-data", b"token=abc", 400, "invalid_request"),  # no boundary
    ("multipart/form-data; boundary=", b"token=abc", 400, "invalid_request"),
    (f"{FORM}; charset=utf-16", "token=abc".encode("utf-16"), 400, "invalid_request"),
    (f"{FORM}; charset=latin-1", b"token=\xe9", 400, "invalid_request"),
    # Regression: a ";" inside a quoted parameter hid the charset Django decodes with (latin-1).
    (f'{FORM}; charset=latin-1; x="a;charset=utf-8"', b"token=\xc3\xa9", 400, "invalid_request"),
    (FORM, b"token=\xff\xfe", 400, "invalid_request"),  # undecodable bytes
    (FORM, b"token=%ff%fe", 400, "invalid_request"),  # undecodable once unquoted
    # Regression (fuzzing, PostgreSQL): a NUL reached the client lookup, which PostgreSQL refused (500).
    (FORM, b"token=abc&client_id=%00", 400, "invalid_request"),
    ("application/json", b'{"token": "abc"}', 400, "invalid_request"),
    ("text/plain", b"token=abc", 400, "invalid_request"),
    (FORM, MANY_FIELDS, 400, "invalid_request"),
    (FORM, BIG, 413, "invalid_request"),
    ("multipart/form-data; boundary=x", BIG, 413, "invalid_request"),
]


@pytest.fixture(scope="module")
def world(build_once):
    return build_once(oauth_world)


def assert_json_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert body["error"] == error
    return body


class TestBadBodies:
    @pytest.mark.parametrize("debug", [False, True])
    @pytest.mark.parametrize("path", ENDPOINTS)
    @pytest.mark.parametrize(("content_type", "body", "status", "error"), BAD_BODIES)
    def test_answered_json(self, client, world, path, content_type, body, status, error, debug):
        """Finding 10: HTML 400s, a 500 for utf-16, HTML for too many fields or too large a body."""
        with override_settings(DEBUG=debug):
            response = client.generic(
                "POST", path, body, content_type=content_type, secure=True, headers=basic_auth(*DEMO)
            )
        assert_json_error(response, status, error)

    def test_too_many_fields_in_the_query(self, client, world):
        response = client.get("/oauth2/introspect?" + MANY_FIELDS.decode(), secure=True)
        assert_json_error(response, 400, "invalid_request")

    def test_a_good_form_still_works(self, client, world):
        response = client.post(
            "/t/foo.com/oauth2/token",
            urlencode({"grant_type": "client_credentials"}),
            content_type=f"{FORM}; charset=UTF-8",
            secure=True,
            headers=basic_auth(*DEMO),
        )
        assert response.status_code == 200, response.content

    def test_the_limits_come_from_deployment_toml(self, client, world, deployment_override, settings):
        server = dataclasses.replace(settings.DEPLOYMENT.server, max_body_bytes=100, max_form_fields=3)
        deployment_override(server=server)
        small = urlencode({"grant_type": "client_credentials", "a": "1", "b": "2", "c": "3"})
        response = client.post("/oauth2/token", small, content_type=FORM, secure=True)
        assert_json_error(response, 400, "invalid_request")
        response = client.post("/oauth2/token", "x=" + "y" * 100, content_type=FORM, secure=True)
        assert_json_error(response, 413, "invalid_request")


# method, path, status, error: what Django answers itself (405, 404) is JSON too, even in debug
# (under /api/, RFC 9457 problem details: tests/test_api_clients.py)
ROUTING = [
    ("GET", "/oauth2/token", 405, "invalid_request"),
    ("PUT", "/t/foo.com/oauth2/token", 405, "invalid_request"),
    ("GET", "/oauth2/revoke", 405, "invalid_request"),
    ("GET", "/oauth2/nothing-here", 404, "not_found"),
    ("GET", "/t/foo.com/.well-known/nothing", 404, "not_found"),
    ("POST", "/.well-known/openid-configuration", 405, "invalid_request"),
]


class TestDjangosOwnAnswers:
    @pytest.mark.parametrize("debug", [False, True])
    @pytest.mark.parametrize(("method", "path", "status", "error"), ROUTING)
    def test_json(self, client, world, method, path, status, error, debug):
        """Finding 10: the token endpoint's 405 was HTML (and a 404 in debug Django's page)."""
        with override_settings(DEBUG=debug):
            response = client.generic(method, path, secure=True)
        assert_json_error(response, status, error)
        if status == 405:
            assert "POST" in response["Allow"] or "GET" in response["Allow"]

    @pytest.mark.parametrize("debug", [False, True])
    def test_the_admin_keeps_html(self, client, world, debug):
        with override_settings(DEBUG=debug):
            response = client.get("/admin/nothing-here/", secure=True)
        assert response.status_code in (302, 404)
        assert not response.get("Content-Type", "").startswith("application/json")


class TestGunicornLimits:
    @pytest.mark.parametrize("limit", [4096, 8190, 16384])
    def test_header_line_limit_from_deployment_toml(self, settings, limit):
        """A header line over [server] max_header_bytes is refused by gunicorn (431)."""
        from identity.server import IdentityServer

        server = dataclasses.replace(settings.DEPLOYMENT.server, max_header_bytes=limit)
        app = IdentityServer(dataclasses.replace(settings.DEPLOYMENT, server=server))
        assert app.cfg.limit_request_field_size == limit


class TestServerErrors:
    """A 500 of an API or OAuth path is ``{"error": "server_error"}``, never Django's debug page."""

    @staticmethod
    def debug_page(request):
        try:
            raise RuntimeError("a bug, with details")
        except RuntimeError:
            return technical_500_response(request, *sys.exc_info())

    @pytest.mark.parametrize("debug", [False, True])
    def test_a_bug_is_a_json_500_with_the_request_id(self, client, world, monkeypatch, debug):
        """An exception no code expected: ``{"error": "server_error"}``, the request id in its
        header (to find the traceback in the log), nothing of the exception."""

        def bug(*args, **kwargs):
            raise RuntimeError("a bug, with details")

        monkeypatch.setattr(discovery, "metadata", bug)
        client.raise_request_exception = False
        with override_settings(DEBUG=debug):
            response = client.get(
                "/.well-known/openid-configuration", secure=True, headers={"X-Request-ID": "req-bug"}
            )
        assert response.status_code == 500
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content) == {"error": "server_error"}
        assert response["X-Request-ID"] == "req-bug"
        assert response["Cache-Control"] == "no-store"

    @pytest.mark.parametrize("content_type", ["application/json", "application/problem+json"])
    def test_json_errors_are_kept(self, rf, content_type):
        """The management API's RFC 9457 problems stay as they are."""
        problem = HttpResponse(
            b'{"title": "Not Found", "status": 404}', status=404, content_type=content_type
        )
        response = JsonErrorsMiddleware(lambda request: problem)(rf.get("/api/tenants/x"))
        assert response is problem and response["Cache-Control"] == "no-store"

    @pytest.mark.parametrize(
        ("path", "json"),
        [
            ("/oauth2/token", True),
            ("/t/foo.com/oauth2/introspect", True),
            ("/.well-known/openid-configuration", True),
            ("/api/tenants", True),
            ("/health", True),
            ("/oauth2/authorize", True),  # its 4xx pages are for people; a 500 is not
            ("/admin/identity/client/", False),
            ("/t/foo.com/login/", False),
        ],
    )
    def test_debug_page_becomes_json(self, rf, path, json):
        response = JsonErrorsMiddleware(self.debug_page)(rf.get(path))
        assert response.status_code == 500
        if json:
            assert response["Content-Type"] == "application/json"
            assert response.content == b'{"error": "server_error"}'
        else:
            assert "RuntimeError" in response.content.decode()


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/introspect", "/api/v1/tenants"])
def test_a_content_type_django_cannot_read_is_a_json_400(world, path):
    """Regression: an RFC 2231 parameter naming an unknown charset made Django's request object
    raise before any middleware, and the WSGI server answered its HTML 500."""
    request = RequestFactory().post(
        path, b"token=abc", FORM, secure=True, HTTP_AUTHORIZATION=basic("admin", "admin")
    )
    request.environ["CONTENT_TYPE"] = f"{FORM}; charset*=nosuch''utf-8"
    status, headers, body = send(server_application(), request)
    assert status.startswith("400"), body[:200]
    assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
    assert json.loads(body)["error"] == "invalid_request"
