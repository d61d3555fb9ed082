"""Start the real server (migrate, bootstrap, gunicorn with TLS) on a free port, as `make run` does.

Black-box tests talk HTTPS to it with ``requests``. The server gets its own deployment.toml in
a temporary folder and its own database: a SQLite file there, or, when TEST_DATABASE_URL names
PostgreSQL, a fresh database on that server (dropped afterwards).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

from deployment import REPO_ROOT

READY_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    """One server process tree, its configuration file and its log."""

    def __init__(
        self, folder: Path, config: str, *, database: _Database | None = None, name: str = "deployment"
    ):
        self.folder = folder
        self.port = free_port()
        self.toml = folder / f"{name}.toml"
        self.log_path = folder / f"{name}.log"
        self.database = database or _Database()
        self.owns_database = database is None
        self.config = config
        self.write_config(config)
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def cert(self) -> str:
        return str(self.folder / "var" / "tls" / "cert.pem")

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "identity.settings",  # not the test settings pytest set
            "IDENTITY_DEPLOYMENT_TOML": str(self.toml),
            "PYTHONUNBUFFERED": "1",
        }

    def write_config(self, extra: str) -> None:
        """Write deployment.toml: the server basics, this server's database, then ``extra``."""
        self.toml.write_text(
            "[server]\n"
            f'hostname = "localhost"\nport = {self.port}\nworkers = 2\ndebug = true\n'
            'secret_key = "blackbox-tests-only"\n\n'
            '[super_admin]\nusername = "admin"\npassword = "admin"\n\n'
            f"{self.database.toml()}\n{extra}\n"
        )

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a management command against this server's configuration."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done

    def second_instance(self) -> RunningServer:
        """Another server on the same database and folder, its configuration differing only in
        the port: how two instances run side by side from one checkout."""
        return RunningServer(self.folder, self.config, database=self.database, name=f"{self.toml.stem}-2")

    def start(self) -> RunningServer:
        if self.owns_database:
            self.database.create()
            self.manage("migrate", "--noinput", "-v0")
            self.manage("bootstrap")
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> None:
        """Start ``python -m identity.server`` as `make run` does, without waiting for it."""
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "identity.server"],
            cwd=REPO_ROOT,
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT, path: str = "/health") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.read_log()}")
            try:
                if self.get(path).status_code == 200:
                    return
            except OSError:  # not listening yet, or its certificate not written yet
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout}s:\n{self.read_log()}")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("verify", self.cert)
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.base_url + path, **kwargs)  # noqa: S113 (timeout set above)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def hup(self) -> None:
        """Send SIGHUP to the master, as an operator reloading deployment.toml would."""
        os.kill(self.process.pid, signal.SIGHUP)

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            self.log.close()
        if self.owns_database:
            self.database.drop()


class _Database:
    """SQLite in the server's folder, or a PostgreSQL database of its own."""

    def __init__(self):
        self.url = os.environ.get("TEST_DATABASE_URL", "")
        self.name = f"identity_bb_{uuid.uuid4().hex[:12]}"

    def toml(self) -> str:
        if not self.url:
            return '[database.identity_db]\ntype = "sqlite"\nurl = "var/identity.sqlite3"\n'
        parts = urlsplit(self.url)
        url = urlunsplit((parts.scheme, parts.netloc, "/" + self.name, "", ""))
        return f'[database.identity_db]\ntype = "postgres"\nurl = "{url}"\n'

    def _admin(self):
        parts = urlsplit(self.url)
        return psycopg.connect(urlunsplit((parts.scheme, parts.netloc, "/postgres", "", "")), autocommit=True)

    def create(self) -> None:
        if self.url:
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.url:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
