"""The servers under benchmark, started by the tests' launcher (``tests/support/server.py``):
``python -m identity.server`` (gunicorn) on its own PostgreSQL database, configured by a
deployment.toml of its own.

Plain HTTP on loopback (``[server] tls = false``): gunicorn's sync workers close the connection
after each response, so with TLS every request would pay a full handshake, on both sides of
the ratio alike, and the figures would measure OpenSSL rather than the endpoint.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

from tests.support.server import Database, RunningServer

# The server runs the product's settings plus the baseline view (bench.settings); management
# commands run the product's settings alone.
BENCH_ENV = {"DJANGO_SETTINGS_MODULE": "bench.settings", "IDENTITY_BENCH": "1"}


def bench_database(admin_url: str, config: str = "") -> Database:
    """A fresh PostgreSQL database for one benchmark run, on the server ``admin_url`` names;
    ``config``: more lines of its ``[database.identity_db]`` table."""
    return Database(admin_url, prefix="identity_bench", config=config)


def fresh_server(
    database_url: str, prefix: str, server_class: type[Server] | None = None, database_config: str = ""
) -> Server:
    """Return a server (not started) in a new work folder, on a new benchmark database (created;
    the caller drops it)."""
    database = bench_database(database_url, database_config)
    database.create()
    return (server_class or Server)(Path(tempfile.mkdtemp(prefix=prefix)), database)


class Server(RunningServer):
    """``identity.server`` over plain HTTP, debug off, on a database the benchmark prepares."""

    def __init__(self, folder: Path, database: Database):
        super().__init__(
            folder,
            database=database,
            tls=False,
            debug=False,
            admin_password=uuid.uuid4().hex,  # bootstrap needs one; nobody signs in
            server_env=BENCH_ENV,
            password_iterations=None,  # the product's default: a user's cold check costs what it will
        )


class BareServer(Server):
    """``bench.bare`` (a bare Django JSON view) under gunicorn with the product's worker settings."""

    application = "bench.bare:application"  # the WSGI application gunicorn serves

    def __init__(self, folder: Path, database: Database):
        super().__init__(folder, database)
        self.server_env = {}  # bench.bare configures Django itself, before any setting is read

    def command(self) -> list[str]:
        return [
            *(sys.executable, "-m", "gunicorn", self.application),
            *(f"--bind=127.0.0.1:{self.port}", f"--workers={self.workers}", "--worker-class=sync"),
            "--log-level=warning",
        ]


class FloorServer(BareServer):
    """A floor of ``bench.floor`` (no Django) with the same settings: the flood's by default."""

    application = "bench.floor:flood_application"
