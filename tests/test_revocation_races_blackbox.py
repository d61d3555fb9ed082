"""Revocation racing use and racing itself, against the real server (several gunicorn workers),
on SQLite and, with TEST_DATABASE_URL, PostgreSQL: no 5xx, and once a revocation is
acknowledged no later introspection says the token is active (RFC 7009 §2.2)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from identity.bootstrap import DEMO_CLIENT

pytestmark = pytest.mark.blackbox

DEMO = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)
THREADS = 8


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def revoke(server, token: str, hint: str = ""):
    data = {"token": token, **({"token_type_hint": hint} if hint else {})}
    return server.post("/oauth2/revoke", data=data, auth=DEMO)


def test_concurrent_revocations_of_one_token_all_succeed(server):
    token = server.password_grant()["access_token"]
    barrier = threading.Barrier(THREADS)

    def one(_):
        barrier.wait()
        return revoke(server, token).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(one, range(THREADS)))
    assert statuses == [200] * THREADS
    assert server.introspect(token).json() == {"active": False}


def test_revocation_racing_use_never_fails_and_is_never_undone(server):
    """Introspections and refreshes race the revocation of the refresh token (which revokes its
    access token): every answer is a proper one, and none started after the acknowledgement
    says active."""
    issued = server.password_grant()
    access, refresh = issued["access_token"], issued["refresh_token"]
    barrier = threading.Barrier(THREADS)
    acknowledged: list[float] = []
    answers: list[tuple[str, float, int, dict]] = []
    lock = threading.Lock()

    def note(kind: str, started: float, response) -> None:
        json_answer = response.headers.get("Content-Type", "").startswith("application/json")
        body = (
            response.json() if json_answer else {"not_json": response.text[:300]} if response.content else {}
        )
        with lock:
            answers.append((kind, started, response.status_code, body))

    def worker(index: int) -> None:
        barrier.wait()
        if index == 0:
            response = revoke(server, refresh, "refresh_token")
            with lock:
                acknowledged.append(time.monotonic())
            note("revoke", 0.0, response)
            return
        for _ in range(6):
            started = time.monotonic()
            if index % 4 == 1:
                note(
                    "refresh",
                    started,
                    server.post(
                        "/oauth2/token",
                        data={"grant_type": "refresh_token", "refresh_token": refresh},
                        auth=DEMO,
                    ),
                )
            else:
                note("introspect", started, server.introspect(access))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    assert all(status < 500 for _, _, status, _ in answers), answers
    assert [status for kind, _, status, _ in answers if kind == "revoke"] == [200]
    for kind, started, status, body in answers:
        if kind == "introspect":
            assert status == 200
            if started > acknowledged[0]:
                assert body == {"active": False}
        if kind == "refresh":
            assert status == 200 or body.get("error") == "invalid_grant", body
    assert server.introspect(access).json() == {"active": False}
    refreshed = [body for kind, _, status, body in answers if kind == "refresh" and status == 200]
    # A refresh that won the race rotated the token: the one it replaced cannot be refreshed again.
    assert len(refreshed) <= 1
