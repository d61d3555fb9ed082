"""The server under test, started as a user starts it: ``python -m identity.server`` (gunicorn)
on its own PostgreSQL database, configured by a deployment.toml of its own.

Plain HTTP on loopback (``[server] tls = false``): gunicorn's sync workers close the connection
after each response, so with TLS every request would pay a full handshake, on both sides of
the ratio alike, and the figures would measure OpenSSL rather than the endpoint.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from deployment import REPO_ROOT

READY_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Database:
    """A fresh PostgreSQL database for one benchmark run, dropped afterwards."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.name = f"identity_bench_{uuid.uuid4().hex[:12]}"
        parts = urlsplit(admin_url)
        self.url = urlunsplit((parts.scheme, parts.netloc, "/" + self.name, "", ""))

    def toml(self) -> str:
        parts = urlsplit(self.url)
        lines = [
            "[database.identity_db]",
            'type = "postgres"',
            f'url = "postgresql://{parts.hostname or "127.0.0.1"}:{parts.port or 5432}/{self.name}"',
        ]
        if parts.username:
            lines.append(f"username = {json.dumps(parts.username)}")
        if parts.password:
            lines.append(f"password = {json.dumps(parts.password)}")
        return "\n".join(lines) + "\n"

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url, **kwargs)

    def create(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Server:
    """One ``identity.server`` process tree on a free loopback port."""

    def __init__(self, folder: Path, database: Database):
        self.folder = folder
        self.database = database
        self.port = free_port()
        self.toml = folder / "deployment.toml"
        self.log_path = folder / "server.log"
        self.process: subprocess.Popen | None = None
        self.admin_password = uuid.uuid4().hex  # bootstrap needs one; nobody signs in
        self.configure(workers=2, extra="")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, *, bench_settings: bool = False) -> dict[str, str]:
        env = {**os.environ, "IDENTITY_DEPLOYMENT_TOML": str(self.toml), "PYTHONUNBUFFERED": "1"}
        # The server runs the product's settings plus the baseline view (bench.settings);
        # management commands run the product's settings alone.
        env["DJANGO_SETTINGS_MODULE"] = "bench.settings" if bench_settings else "identity.settings"
        if bench_settings:
            env["IDENTITY_BENCH"] = "1"
        return env

    def configure(self, *, workers: int, extra: str) -> None:
        """Write deployment.toml: plain HTTP on loopback, ``workers`` workers, then ``extra``."""
        self.workers = workers
        self.toml.write_text(
            "[server]\n"
            f'hostname = "127.0.0.1"\nport = {self.port}\ntls = false\ndebug = false\n'
            f"workers = {workers}\n"
            'secret_key = "benchmark-only"\n\n'
            f'[super_admin]\nusername = "admin"\npassword = "{self.admin_password}"\n\n'
            f"{self.database.toml()}\n{extra}\n"
        )

    def manage(self, *args: str) -> str:
        """Run a management command against this server's configuration; return its stdout."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout

    def command(self) -> list[str]:
        return [sys.executable, "-m", "identity.server"]

    def start(self) -> None:
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=REPO_ROOT,
            env=self.env(bench_settings=True),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, path: str = "/health") -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:  # not listening yet
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {READY_TIMEOUT}s; see {self.log_path}")

    def post(self, path: str, body: bytes, authorization: str = "") -> tuple[int, dict]:
        """POST a form to the server; return the status and the JSON body."""
        # S310: the URL is our own http://127.0.0.1 one.
        request = urllib.request.Request(self.base_url + path, data=body, method="POST")  # noqa: S310
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if authorization:
            request.add_header("Authorization", authorization)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        self.process = None


class BareServer(Server):
    """``bench.bare`` (a bare Django JSON view) under gunicorn with the product's worker settings."""

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "gunicorn", "bench.bare:application"),
            *(f"--bind=127.0.0.1:{self.port}", f"--workers={self.workers}", "--worker-class=sync"),
            "--log-level=warning",
        ]

    def env(self, *, bench_settings: bool = False) -> dict[str, str]:
        env = super().env(bench_settings=bench_settings)
        env.pop("DJANGO_SETTINGS_MODULE")  # bench.bare configures Django itself
        return env
