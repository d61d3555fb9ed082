"""Security findings against the real server (gunicorn, TLS, ``debug = true``), as `make run` starts it.

Findings of the security audit: 3 (the debug page printed deployment.toml's secrets), 9
(``var/`` was world-readable), 10 (HTML and 500 answers; a 3 MB body over TLS dropped the
connection instead of a 413), 12 (no ``Strict-Transport-Security`` over TLS).
"""

from __future__ import annotations

import stat
from urllib.parse import urlencode

import pytest
import requests

from identity.bootstrap import DEMO_CLIENT
from tests.support.server import SECRET_KEY, RunningServer

pytestmark = pytest.mark.blackbox

DEMO = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    # What an older version left behind: a world-readable var/ and log.
    var = folder / "var"
    var.mkdir(mode=0o755)
    (var / "old.log").write_text("a line\n")
    (var / "old.log").chmod(0o644)
    var.chmod(0o755)
    running = RunningServer(folder, "[demo]\nenabled = true\n")
    try:
        running.prepare()  # a copy of a bootstrapped database: bootstrap itself runs here too
        running.manage("bootstrap")
        running.launch()
        running.wait_ready()
        yield running
    finally:
        running.stop()


def assert_json_error(response, status: int, error: str = "invalid_request") -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["error"] == error


class TestHeaders:
    def test_hsts_and_nosniff_over_tls(self, server):
        """Finding 12: no Strict-Transport-Security when serving TLS."""
        for path in ("/health", "/t/foo.com/oauth2/jwks", "/admin/login/"):
            response = server.get(path)
            assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
            assert response.headers["X-Content-Type-Options"] == "nosniff"

    def test_behind_a_tls_proxy_too(self, tmp_path_factory):
        """``tls = false`` behind a trusted TLS-terminating proxy (the documented set-up): the
        browser is on TLS, so HSTS is sent and the admin's cookies are ``Secure``. Before, both
        followed ``tls`` alone: the session cookie could go out over plain HTTP."""
        running = RunningServer(tmp_path_factory.mktemp("proxied"), tls=False)
        proxied = '[server]\ntrusted_proxies = ["127.0.0.1"]\n'
        running.toml.write_text(running.toml.read_text().replace("[server]\n", proxied, 1))
        try:
            running.start()
            response = running.get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
        finally:
            running.stop()
        assert response.status_code == 200
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        (cookie,) = [cookie for cookie in response.cookies if cookie.name == "csrftoken"]
        assert cookie.secure


class TestBodies:
    @pytest.mark.parametrize("size", [2_500_000, 3_000_000])
    @pytest.mark.parametrize("path", ["/oauth2/token", "/t/foo.com/oauth2/revoke", "/oauth2/introspect"])
    def test_too_large_is_413_json(self, server, path, size):
        """Finding 10: 2.5 MB got an HTML 400; 3 MB over TLS dropped the connection."""
        body = b"token=" + b"x" * size
        response = server.post(path, data=body, headers={"Content-Type": FORM}, auth=DEMO)
        assert_json_error(response, 413)

    # content type, body
    BAD = [
        ("multipart/form-data", b"token=abc"),
        (f"{FORM}; charset=utf-16", "token=abc".encode("utf-16")),
        (FORM, b"token=\xff"),
        (FORM, urlencode({f"f{i}": "x" for i in range(1001)}).encode()),
    ]

    @pytest.mark.parametrize(("content_type", "body"), BAD)
    @pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/revoke", "/t/foo.com/oauth2/introspect"])
    def test_unreadable_is_400_json(self, server, path, content_type, body):
        """Finding 10: HTML 400s, and a 500 for utf-16 at the introspection endpoint."""
        response = server.post(path, data=body, headers={"Content-Type": content_type}, auth=DEMO)
        assert_json_error(response, 400)

    def test_token_endpoint_405_is_json(self, server):
        response = server.get("/oauth2/token")
        assert_json_error(response, 405)
        assert "POST" in response.headers["Allow"]

    def test_revocation_is_never_cached_nor_html(self, server):
        response = server.post("/t/foo.com/oauth2/revoke", data={"token": "unknown"}, auth=DEMO)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "text/html" not in response.headers.get("Content-Type", "")

    def test_a_header_over_the_limit_is_refused(self, server):
        response = server.get("/health", headers={"X-Big": "x" * 9000})
        assert response.status_code == 431  # gunicorn's own answer (RFC 6585 §5)


class TestDebugPage:
    def test_the_admins_debug_page_shows_no_secret(self, server):
        """Finding 3: the debug page printed DEPLOYMENT: secret key, super admin password."""
        session = requests.Session()
        session.get(server.base_url + "/admin/login/", verify=server.cert, timeout=30)
        fields = {"csrfmiddlewaretoken": session.cookies["csrftoken"], **{f"f{i}": "x" for i in range(1001)}}
        response = session.post(
            server.base_url + "/admin/login/",
            data=urlencode(fields),
            headers={"Content-Type": FORM, "Referer": server.base_url + "/admin/login/"},
            verify=server.cert,
            timeout=30,
        )
        assert response.status_code == 400
        assert "TooManyFieldsSent" in response.text  # Django's debug page: debug = true
        assert SECRET_KEY not in response.text
        assert "password='admin'" not in response.text and "DEPLOYMENT" in response.text


class TestFilesAtRest:
    def test_var_is_owner_only(self, server):
        """Finding 9: var/identity.sqlite3 (and the rest of var/) was world-readable."""
        var = server.folder / "var"
        paths = [var, *var.rglob("*")]
        assert any(p.name == "key.pem" for p in paths) and any(p.name == "old.log" for p in paths)
        if not server.database.url:
            assert any(p.name == "identity.sqlite3" for p in paths)
        loose = {
            str(p.relative_to(server.folder)): oct(stat.S_IMODE(p.stat().st_mode))
            for p in paths
            if stat.S_IMODE(p.stat().st_mode) & 0o077
        }
        assert loose == {}
