"""The real server on PostgreSQL through a Unix-domain socket (``[database.identity_db] url`` with
a ``host`` parameter naming the socket's directory): its pool and its change listener both
connect there, and it serves (docs/deployment-toml.md)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.server import Database, RunningServer

SOCKET_DIRECTORY = "/var/run/postgresql"  # Debian's PostgreSQL
_TARGET = urlsplit(os.environ.get("TEST_DATABASE_URL", ""))

pytestmark = [
    pytest.mark.blackbox,
    pytest.mark.skipif(
        not _TARGET.scheme.startswith("postgres") or _TARGET.hostname not in ("127.0.0.1", "localhost"),
        reason="PostgreSQL on this machine (TEST_DATABASE_URL)",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    socket = Path(SOCKET_DIRECTORY, f".s.PGSQL.{_TARGET.port or 5432}")
    assert socket.is_socket(), f"no PostgreSQL socket at {socket}"
    user = f"{_TARGET.username}@" if _TARGET.username else ""
    admin_url = f"postgresql://{user}:{_TARGET.port or 5432}{_TARGET.path}?host={SOCKET_DIRECTORY}"
    server = RunningServer(
        tmp_path_factory.mktemp("socket"), "[demo]\nenabled = true\n", database=Database(admin_url)
    )
    server.owns_database = True
    yield server.start()
    server.stop()


def test_the_pool_and_the_listener_connect_through_the_socket(server):
    assert f'host={SOCKET_DIRECTORY}"' in server.toml.read_text()
    token = server.password_grant()["access_token"]
    assert server.introspect(token).json()["active"] is True
    assert server.get("/health/ready").json()["checks"]["change_listener"] == "UP"
    sessions = server.query(
        "SELECT application_name, client_addr FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        server.database.name,
    )
    assert "identity-change-listener" in {name for name, _ in sessions}
    assert {address for _, address in sessions} == {None}  # no TCP peer: a Unix socket
