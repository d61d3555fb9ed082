"""The real server, started as `make run` starts it: gunicorn, TLS, deployment.toml, SIGHUP."""

import ssl
import time

import pytest

pytestmark = pytest.mark.blackbox


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory()


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


class TestServing:
    def test_super_tenant_at_the_root_and_demo_tenant_under_t(self, server):
        assert server.get("/health").json() == {"status": "ok", "tenant": "carbon.super"}
        assert server.get("/t/foo.com/health").json() == {"status": "ok", "tenant": "foo.com"}

    def test_unknown_tenant_is_a_json_404_naming_it(self, server):
        response = server.get("/t/bar.com/health")
        assert response.status_code == 404
        assert response.json()["tenant_domain"] == "bar.com"

    def test_certificate_names_localhost_and_127_0_0_1(self, server):
        context = ssl.create_default_context(cafile=server.cert)
        for host in ("localhost", "127.0.0.1"):
            with (
                ssl.create_connection((host, server.port)) as raw,
                context.wrap_socket(raw, server_hostname=host) as tls,
            ):
                assert tls.version().startswith("TLS")

    def test_admin_login_page_is_served_with_its_styles(self, server):
        assert server.get("/admin/login/").status_code == 200
        assert server.get("/static/admin/css/base.css").status_code == 200


class TestReloadOnSighup:
    """§7: on SIGHUP a good file is applied; a bad one is refused and the old one kept."""

    def test_bad_file_is_refused_and_good_file_applied(self, server_factory):
        server = server_factory("[demo]\nenabled = true\n")
        good = server.toml.read_text()
        server.toml.write_text(good + "\n[oauth]\nno_such_key = 1\n")
        server.hup()
        assert wait_for(lambda: "deployment.toml refused" in server.read_log())
        assert "no_such_key" in server.read_log()
        assert server.get("/health").status_code == 200

        server.toml.write_text(
            good.replace('super_tenant_domain = "carbon.super"', "") + "\n[tenant]\ncache_seconds = 0\n"
        )
        server.hup()
        assert wait_for(lambda: server.read_log().count("Booting worker") >= 4)
        assert server.get("/health").status_code == 200
