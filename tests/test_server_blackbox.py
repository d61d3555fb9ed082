"""The real server, started as `make run` starts it: gunicorn, TLS, deployment.toml, SIGHUP."""

import os
import ssl
import subprocess
import sys

import pytest

from deployment import REPO_ROOT
from tests.support.polling import wait_for

pytestmark = pytest.mark.blackbox


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


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

    def test_redirects_inside_a_tenant_keep_its_prefix(self, server):
        for path, login in [
            ("/t/foo.com/admin/", "/t/foo.com/admin/login/?next=/t/foo.com/admin/"),
            ("/admin/", "/admin/login/?next=/admin/"),
            ("/t/foo.com/admin/", "/t/foo.com/admin/login/?next=/t/foo.com/admin/"),
        ]:
            response = server.get(path, allow_redirects=False)
            assert response.status_code == 302
            assert response.headers["Location"] == login


class TestReloadOnSighup:
    """docs/deployment-toml.md: on SIGHUP a good file is applied; a bad one is refused and the old one
    kept."""

    def test_bad_file_is_refused_and_good_file_applied(self, server_factory):
        server = server_factory("[demo]\nenabled = true\n")
        good = server.toml.read_text()
        server.toml.write_text(good + "\n[oauth]\nno_such_key = 1\n")
        server.hup()
        assert wait_for(lambda: "deployment.toml refused" in server.read_log())
        assert "no_such_key" in server.read_log()
        assert server.get("/health").status_code == 200

        server.toml.write_text(
            good.replace('super_tenant_domain = "carbon.super"', "") + "\n[cache]\nmax_age = 60\n"
        )
        server.hup()
        # Answered while the old workers may still be on their way out: a reload drops nothing.
        # (A reset and a 500 were seen here: the master died of its SIGCHLD hook's import, see
        # test_the_master_imports_what_its_sigchld_hook_needs_at_start_up.)
        assert wait_for(lambda: server.read_log().count("Booting worker") >= 4)
        assert server.get("/health").status_code == 200, server.read_log()


class TestRefusesBadConfiguration:
    """docs/deployment-toml.md: a bad deployment.toml stops start-up with a message naming the key and the
    line."""

    @staticmethod
    def start(toml) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "identity.server"],
            cwd=REPO_ROOT,
            env={**os.environ, "IDENTITY_DEPLOYMENT_TOML": str(toml)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    @pytest.mark.parametrize(
        ("text", "where"),
        [
            ("[server]\nport = true\n", "line 2, key 'server.port'"),
            ("[server]\ndebug = false\n\n[demo]\nenabled = true\n", "line 5, key 'demo.enabled'"),
            ("[oauth]\nno_such_key = 1\n", "line 2, key 'oauth.no_such_key'"),
            (
                "[[resource.access_control]]\ncontext = '(.*/introspect'\n",
                "line 2, key 'resource.access_control[0].context'",
            ),
            ("[server\n", "line 1"),
        ],
    )
    def test_server_does_not_start(self, tmp_path, text, where):
        toml = tmp_path / "deployment.toml"
        toml.write_text(text + '\n[super_admin]\npassword = "pw"\n')
        done = self.start(toml)
        assert done.returncode == 1
        assert f"identity-server: not starting: {toml}, {where}" in done.stderr
        assert "Traceback" not in done.stderr

    def test_half_a_tls_pair_is_not_overwritten(self, tmp_path):
        """Regression: with tls_cert present and tls_key missing, both were overwritten."""
        toml = tmp_path / "deployment.toml"
        toml.write_text(
            '[server]\ntls_cert = "cert.pem"\ntls_key = "key.pem"\n[super_admin]\npassword = "pw"\n'
        )
        (tmp_path / "cert.pem").write_text("the operator's certificate")
        done = self.start(toml)
        assert done.returncode == 1
        assert f"identity-server: not starting: {tmp_path / 'key.pem'} does not exist" in done.stderr
        assert (tmp_path / "cert.pem").read_text() == "the operator's certificate"
        assert not (tmp_path / "key.pem").exists()


def test_the_master_imports_what_its_sigchld_hook_needs_at_start_up(tmp_path):
    """Gunicorn calls ``child_exit`` from the master's SIGCHLD handler. Its first import of
    prometheus_client, there, was once interrupted by the next SIGCHLD (the old workers exiting
    together on a SIGHUP reload) and entered again half done: the master died of an ImportError
    and took the server down. The master imports it at start-up, before any worker exits."""
    toml = tmp_path / "deployment.toml"
    toml.write_text('[super_admin]\npassword = "unused"\n')
    code = (
        "import sys; from deployment import load; from identity.server import prepare_metrics_dir; "
        f"prepare_metrics_dir(load({str(toml)!r})); "
        "print('prometheus_client.multiprocess' in sys.modules, 'django' in sys.modules)"
    )
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.stdout.split() == ["True", "False"], done.stderr  # and the master still has no Django
    assert (tmp_path / "var" / "metrics").is_dir()


def test_a_worker_imports_the_urlconf_before_its_first_request(tmp_path):
    """Django imports the URLconf (the admin, the API and its schema) at the first request it
    serves: about 0.7 s that a restarted worker's first caller waited. The worker's WSGI module
    imports it when the worker starts, before it accepts a connection."""
    toml = tmp_path / "deployment.toml"
    toml.write_text('[super_admin]\npassword = "unused"\n[database.identity_db]\ntype = "sqlite"\n')
    code = (
        "import sys, identity.wsgi; print('identity.urls' in sys.modules, 'identity.api.urls' in sys.modules)"
    )
    env = {**os.environ, "IDENTITY_DEPLOYMENT_TOML": str(toml), "DJANGO_SETTINGS_MODULE": "identity.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.stdout.split() == ["True", "True"], done.stderr
