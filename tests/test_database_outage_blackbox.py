"""A database outage against the real server on PostgreSQL: 503 JSON with Retry-After, never a
500 or a hang, recovery by itself, nothing acknowledged lost (docs/security.md).

The server reaches PostgreSQL through a TCP proxy that the test cuts (open connections dropped,
new ones refused) and restores; the machine's PostgreSQL itself keeps running.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from identity.bootstrap import DEMO_CLIENT
from tests.support.server import Database, RunningServer
from tests.support.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.blackbox,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
        reason="an outage of PostgreSQL (TEST_DATABASE_URL); SQLite is a file",
    ),
]

POOL_TIMEOUT = 2  # seconds a request waits for a connection before its 503
REQUEST_BOUND = 10  # no answer may take longer during the outage
RECOVERY_BOUND = 15  # seconds from the database's return to correct answers
DEMO = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)


class _ProxiedDatabase(Database):
    """The server's own database, reached through ``proxy`` (created and dropped directly)."""

    def __init__(self, proxy: TcpProxy):
        super().__init__(os.environ["TEST_DATABASE_URL"])
        self.proxy = proxy

    def toml(self) -> str:
        return (
            '[database.identity_db]\ntype = "postgres"\n'
            f'url = "postgresql://127.0.0.1:{self.proxy.port}/{self.name}"\n'
            f'username = "{urlsplit(self.url).username or "postgres"}"\npool_timeout = {POOL_TIMEOUT}\n'
        )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    target = urlsplit(os.environ["TEST_DATABASE_URL"])
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    extra = "[demo]\nenabled = true\n"
    server = RunningServer(tmp_path_factory.mktemp("outage"), extra, database=_ProxiedDatabase(proxy))
    server.owns_database = True  # created, migrated and dropped directly, not through the proxy
    server.start()
    yield server, proxy
    server.stop()  # drops the database directly, not through the proxy
    proxy.cut()


def issue(server) -> tuple[int, dict]:
    response = server.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=DEMO, timeout=30)
    return response.status_code, _json(response)


def _json(response) -> dict:
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
    return response.json()


def stored_tokens(database: _ProxiedDatabase) -> int:
    with database.connect(autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM identity_accesstoken").fetchone()[0]


def test_outage_answers_503_and_the_server_recovers_by_itself(proxied):
    server, proxy = proxied
    status, before = issue(server)
    assert status == 200
    assert server.introspect(before["access_token"]).json()["active"] is True
    acknowledged = stored_tokens(server.database)

    proxy.cut()
    answers: list[tuple[str, int, float, dict]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 10

    def load(worker: int) -> None:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            if worker % 2:
                # A token never seen needs the database. (Nothing is answered from memory while
                # the change listener cannot hear: no kept answer, no caller's pass.)
                unseen = secrets.token_urlsafe(32)
                response = server.introspect(before["access_token"] if worker == 1 else unseen)
                kind = "introspect"
            else:
                response = server.post(
                    "/oauth2/token", data={"grant_type": "client_credentials"}, auth=DEMO, timeout=30
                )
                kind = "token"
            with lock:
                answers.append((kind, response.status_code, time.monotonic() - started, _json(response)))
                if response.status_code == 503:
                    assert int(response.headers["Retry-After"]) > 0

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(load, range(4)))

    statuses = {status for _, status, _, _ in answers}
    assert statuses == {503}, answers[:5]
    assert all(body["error"] == "temporarily_unavailable" for *_, body in answers)
    slowest = max(seconds for _, _, seconds, _ in answers)
    assert slowest < REQUEST_BOUND, slowest

    proxy.restore()
    restored = time.monotonic()
    while True:
        response = server.introspect(before["access_token"])
        if response.status_code == 200:
            break
        assert response.status_code == 503, response.text[:200]
        assert time.monotonic() - restored < RECOVERY_BOUND, "not recovered"
        time.sleep(0.1)
    recovered_in = time.monotonic() - restored
    print(f"\noutage: {len(answers)} answers, all 503, slowest {slowest:.2f} s")
    print(f"outage: recovered {recovered_in:.2f} s after the database returned")

    # Nothing acknowledged lost; nothing refused appears.
    assert response.json()["active"] is True
    assert stored_tokens(server.database) == acknowledged
    # Every worker is back, not only the one that answered first.
    for _ in range(6):
        status, after = issue(server)
        assert status == 200, after
        assert server.introspect(after["access_token"]).json()["active"] is True
    assert stored_tokens(server.database) == acknowledged + 6
