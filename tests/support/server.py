"""Start the real server (migrate, bootstrap, gunicorn) on a free port, as `make run` does.

The one launcher of the repository: black-box tests talk HTTPS to it with ``requests``, and
``bench/`` drives it over plain HTTP (``tls=False``). Each server gets its own deployment.toml
in its own folder (its ``var/`` too) and its own database: a SQLite file there, or, when
``TEST_DATABASE_URL`` (or bench's ``--database-url``) names PostgreSQL, a fresh database on that
server, dropped afterwards. Ports, folders and database names are never shared, so pytest-xdist
workers can each start servers side by side.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests

from deployment import REPO_ROOT, DeploymentError, load
from tests.support.polling import wait_for

READY_TIMEOUT = 60
# Seconds: twice the longest a worker keeps lines (0.5 s) and counts (1 s) to write together.
LINES_WRITTEN = 2.0
# [server] secret_key of every server started here (50 characters at least, as the loader asks)
SECRET_KEY = "blackbox-tests-only-0123456789abcdefghijklmnopqrstuvwxyz"
# [password] iterations of the servers the tests start: RFC 8018's minimum, so that the many
# sign-ins of a test cost milliseconds, not Django's 0.3 s each; the hasher and its code path are
# the product's (docs/security.md#passwords).
TEST_PASSWORD_ITERATIONS = 1000


def free_port() -> int:
    """Return a loopback port that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Database:
    """SQLite in the server's folder (``admin_url`` empty), or a PostgreSQL database of its own,
    created on the server that ``admin_url`` names."""

    def __init__(self, admin_url: str = "", *, prefix: str = "identity_bb", config: str = ""):
        self.admin_url = admin_url
        self.config = config  # more lines of [database.identity_db] (PostgreSQL)
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.url = _on_database(admin_url, self.name) if admin_url else ""

    @classmethod
    def for_tests(cls) -> Database:
        """The database that ``TEST_DATABASE_URL`` asks for (SQLite when it is unset)."""
        return cls(os.environ.get("TEST_DATABASE_URL", ""))

    def toml(self) -> str:
        if not self.url:
            return '[database.identity_db]\ntype = "sqlite"\nurl = "var/identity.sqlite3"\n'
        parts = urlsplit(self.url)
        # the admin URL's host, port and parameters (a Unix socket's directory among them)
        url = parts._replace(scheme="postgresql", netloc=parts.netloc.rpartition("@")[2]).geturl()
        lines = ["[database.identity_db]", 'type = "postgres"', f'url = "{url}"']
        if parts.username:
            lines.append(f"username = {json.dumps(parts.username)}")
        if parts.password:
            lines.append(f"password = {json.dumps(parts.password)}")
        return "\n".join([*lines, self.config]) + "\n"

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url, **kwargs)

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(_on_database(self.admin_url, "postgres"), autocommit=True)

    def sqlite_file(self, folder: Path) -> Path:
        """The SQLite database of a server in ``folder`` (``url`` of ``toml()``)."""
        return folder / "var" / "identity.sqlite3"

    def create(self, folder: Path | None = None, *, template: Template | None = None) -> None:
        """Create the database of the server in ``folder``: empty, or a copy of ``template``."""
        if self.url:
            copy = f' TEMPLATE "{template.database.name}"' if template else ""
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"{copy}')
        elif template is not None and folder is not None:
            self.sqlite_file(folder).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template.database.sqlite_file(template.folder), self.sqlite_file(folder))

    def drop(self) -> None:
        if self.url:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _on_database(url: str, name: str) -> str:
    """``url`` (its host, port, credentials and parameters) naming the database ``name``."""
    return urlsplit(url)._replace(path="/" + name).geturl()


class RunningServer:
    """One server process tree, its configuration file and its log.

    ``start()`` creates, migrates and bootstraps the database when the server owns it (none was
    given); a server given a database only launches, so the caller prepares that database.
    """

    def __init__(
        self,
        folder: Path,
        extra: str = "",
        *,
        database: Database | None = None,
        name: str = "deployment",
        tls: bool = True,
        debug: bool = True,
        workers: int = 2,
        admin_password: str = "admin",  # noqa: S107 (the documents' admin/admin)
        server_env: dict[str, str] | None = None,
        password_iterations: int | None = TEST_PASSWORD_ITERATIONS,  # None: the product's default
    ):
        self.folder = folder
        self.port = free_port()
        self.toml = folder / f"{name}.toml"
        self.log_path = folder / f"{name}.log"
        self.database = database or Database.for_tests()
        self.owns_database = database is None
        self.tls = tls
        self.debug = debug
        self.workers = workers
        self.admin_password = admin_password
        self.server_env = server_env or {}
        self.password_iterations = password_iterations
        self.process: subprocess.Popen | None = None
        self.configure(extra=extra)

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    @property
    def cert(self) -> str:
        return str(self.folder / "var" / "tls" / "cert.pem")

    def env(self) -> dict[str, str]:
        """The environment of management commands: the product's settings, this deployment.toml."""
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "identity.settings",  # not the test settings pytest set
            "IDENTITY_DEPLOYMENT_TOML": str(self.toml),
            "PYTHONUNBUFFERED": "1",
        }

    def configure(self, extra: str, *, workers: int | None = None) -> None:
        """Write deployment.toml: the server basics, this server's database, then ``extra``."""
        self.extra = extra
        self.workers = workers or self.workers
        host = "localhost" if self.tls else "127.0.0.1"
        tls = "" if self.tls else "tls = false\n"
        password = (
            f"[password]\niterations = {self.password_iterations}\n\n" if self.password_iterations else ""
        )
        self.toml.write_text(
            "[server]\n"
            f'hostname = "{host}"\nport = {self.port}\n{tls}workers = {self.workers}\n'
            f'debug = {"true" if self.debug else "false"}\nsecret_key = "{SECRET_KEY}"\n\n'
            f'[super_admin]\nusername = "admin"\npassword = "{self.admin_password}"\n\n'
            f"{password}{self.database.toml()}\n{extra}\n"
        )

    def manage(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run a management command against this server's configuration."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return checked(done, check)

    def console(self) -> Console:
        """An operator's console on this server's configuration: management commands run by one
        process kept open (tests/support/console.py), a second faster each than ``manage``."""
        return Console(self.env(), self.folder / f"{self.toml.stem}-console.log")

    def query(self, sql: str, *params: object) -> list[tuple]:
        """Return the rows of one read-only SQL statement (``%s`` placeholders) on this server's
        database: what is stored, read directly, without the second of start-up a management
        command costs."""
        if self.database.url:
            with self.database.connect() as conn:
                return conn.execute(sql, params).fetchall()
        uri = f"file:{self.database.sqlite_file(self.folder)}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            return conn.execute(sql.replace("%s", "?"), params).fetchall()

    def second_instance(self) -> RunningServer:
        """Another server on the same database and folder, its configuration differing only in
        the port: how two instances run side by side from one checkout."""
        return RunningServer(
            self.folder, self.extra, database=self.database, name=f"{self.toml.stem}-2",
            tls=self.tls, debug=self.debug, workers=self.workers, admin_password=self.admin_password,
            server_env=self.server_env, password_iterations=self.password_iterations,
        )  # fmt: skip

    def prepare(self) -> None:
        """Create this server's own database, migrated and bootstrapped.

        The database is a copy of one this test process migrated, then bootstrapped, once for
        every set of the values ``bootstrap`` reads (``migrate`` and ``bootstrap`` are the costliest
        steps of a start, and their outcome is the same for every server that agrees on those
        values). A file the loader refuses is bootstrapped in place, to fail as ``make run`` would.
        """
        try:
            template = _bootstrapped(self.database.admin_url, bootstrap_values(self.toml))
        except DeploymentError:
            template = None
        if template is None:
            self.database.create(self.folder, template=_migrated(self.database.admin_url))
            self.manage("bootstrap")
        else:
            self.database.create(self.folder, template=template)

    def start(self) -> RunningServer:
        if self.owns_database:
            self.prepare()
        self.launch()
        self.wait_ready()
        return self

    def command(self) -> list[str]:
        return [sys.executable, "-m", "identity.server"]

    def launch(self) -> None:
        """Start the server as `make run` does, without waiting for it."""
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=REPO_ROOT,
            env={**self.env(), **self.server_env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT, path: str = "/health") -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.read_log()}")
            return self.get(path, timeout=5).status_code == 200

        # OSError: not listening yet, or its certificate not written yet.
        if not wait_for(answers, timeout, errors=(OSError,)):
            raise RuntimeError(f"the server did not answer within {timeout}s:\n{self.read_log()}")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        if self.tls:
            kwargs.setdefault("verify", self.cert)
        kwargs.setdefault("timeout", 30)
        return requests.request(method, self.base_url + path, **kwargs)  # noqa: S113 (timeout set above)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    @property
    def admin(self) -> tuple[str, str]:
        """The super tenant's admin (``[super_admin]``): user name and password."""
        return ("admin", self.admin_password)

    def password_grant(self, user: tuple[str, str] | None = None) -> dict:
        """Return the token response of a password grant by the demo client for ``user`` (the
        super admin by default); it must be issued."""
        from identity.bootstrap import DEMO_CLIENT  # Django's models: not for bench/'s processes

        username, password = user or self.admin
        data = {"grant_type": "password", "username": username, "password": password}
        demo = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)
        response = self.post("/oauth2/token", data=data, auth=demo)
        assert response.status_code == 200, response.text
        return response.json()

    def introspect(self, token: str, auth: tuple[str, str] | None = None) -> requests.Response:
        """Introspect ``token`` at the super tenant's endpoint, as ``auth`` (Basic; the super
        admin by default)."""
        return self.post("/oauth2/introspect", data={"token": token}, auth=auth or self.admin)

    def hup(self) -> None:
        """Send SIGHUP to the master, as an operator reloading deployment.toml would."""
        os.kill(self.process.pid, signal.SIGHUP)

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def written_log(self) -> str:
        """The log once every line of the requests answered so far is written."""
        self.settle()
        return self.read_log()

    @staticmethod
    def settle() -> None:
        """Wait until the workers wrote what they keep to write together: log lines every
        ``[logging] flush_interval`` (0.5 s by default), counts within 1 s (identity/batches.py)."""
        time.sleep(LINES_WRITTEN)

    def stop(self) -> None:
        """Stop the process tree (the server may be started again); drop a database it owns."""
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
            self.log.close()
            self.process = None
        if self.owns_database:
            self.database.drop()


def checked(done: subprocess.CompletedProcess, check: bool) -> subprocess.CompletedProcess:
    """Return ``done``; when ``check``, raise if the command failed."""
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(done.args)} failed ({done.returncode}):\n{done.stderr}")
    return done


class LineProcess:
    """``python -m <module> <args>`` answering each line written to its standard input with one
    line on its standard output; its standard error goes to ``log_path``."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path, prefix: tuple[str, ...] = ()):
        """``prefix``: a command that runs Python (a profiler's, a benchmark's)."""
        self.log = log_path.open("ab")
        self.module = argv[0]
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-m", *argv],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def ask(self, line: str | None) -> str:
        """Write ``line`` (None: nothing) and return the process's next line."""
        if line is not None:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"{self.module} exited ({self.process.wait()}); see {self.log.name}")
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self.log.close()


class Console(LineProcess):
    """``python -m tests.support.console`` on a server's configuration; its own log in ``log_path``.
    A context manager: it closes on leaving."""

    def __init__(self, env: dict[str, str], log_path: Path):
        super().__init__(["tests.support.console"], env, log_path)

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a management command, as ``RunningServer.manage`` does, in the console."""
        answer = self.ask(json.dumps(args))
        return checked(subprocess.CompletedProcess(["manage.py", *args], **json.loads(answer)), check)

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class Template:
    """A migrated, empty database, and the folder of the deployment that migrated it."""

    database: Database
    folder: Path


# (admin URL, "" for SQLite; bootstrap's values, None for a template only migrated) -> this
# process's template
_templates: dict[tuple[str, tuple | None], Template] = {}


def bootstrap_values(toml: Path) -> tuple:
    """Return what ``manage.py bootstrap`` reads of the file at ``toml`` (identity/bootstrap.py):
    the super tenant, its admin, the demo switch, and the rounds of the passwords it hashes."""
    deployment = load(toml)
    return (
        deployment.tenant.super_tenant_domain,
        deployment.super_admin,
        deployment.demo.enabled,
        deployment.password.iterations,
    )


def _new_template(admin_url: str) -> tuple[Path, Database]:
    """A folder and a database for a template, both removed when the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="identity-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    database = Database(admin_url, prefix="identity_template")
    atexit.register(database.drop)
    return folder, database


def _migrated(admin_url: str) -> Template:
    """Return this process's template on the server ``admin_url`` names (SQLite when empty),
    migrated on first use."""
    if (admin_url, None) not in _templates:
        folder, database = _new_template(admin_url)
        database.create()
        RunningServer(folder, database=database).manage("migrate", "--noinput", "-v0")
        _templates[admin_url, None] = Template(database, folder)
    return _templates[admin_url, None]


def _bootstrapped(admin_url: str, values: tuple) -> Template | None:
    """Return this process's template of a server whose file gives bootstrap ``values``: the
    migrated template, bootstrapped on first use. None when a server started here could not
    write those values (a test wrote the file itself)."""
    if (admin_url, values) not in _templates:
        domain, admin, demo, iterations = values
        folder, database = _new_template(admin_url)
        extra = f"[tenant]\nsuper_tenant_domain = {json.dumps(domain)}\n\n"
        extra += f"[demo]\nenabled = {json.dumps(demo)}\n"
        server = RunningServer(
            folder, extra, database=database, admin_password=admin.password, password_iterations=iterations
        )
        if bootstrap_values(server.toml) != values:
            return None
        database.create(folder, template=_migrated(admin_url))
        server.manage("bootstrap")
        _templates[admin_url, values] = Template(database, folder)
    return _templates[admin_url, values]
