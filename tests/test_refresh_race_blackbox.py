"""Against the real server (gunicorn, 2 workers; SQLite, or PostgreSQL with TEST_DATABASE_URL):
racing refreshes of one refresh token, and an operator locking a user (issue 11 findings 2, 10)."""

from __future__ import annotations

import threading

import pytest

from identity.bootstrap import DEMO_CLIENT

pytestmark = pytest.mark.blackbox

DEMO = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)
RACERS = 8


@pytest.fixture(scope="module")
def console(demo_server):
    """An operator's console on the server's configuration, for the module's commands."""
    with demo_server.console() as console:
        yield console


@pytest.fixture(scope="module")
def server(demo_server, console):
    console.manage("createuser", "--tenant", "carbon.super", "erin", "--password", "erin-pw")
    return demo_server


def refresh(server, refresh_token: str):
    return server.post(
        "/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}, auth=DEMO
    )


class TestConcurrentRefresh:
    """RFC 9700 §4.14.2 rotation: of eight simultaneous refreshes of one refresh token exactly
    one succeeds; the others get invalid_grant, never a 500 (they got one to three 500s)."""

    @pytest.mark.parametrize("round_", range(3))
    def test_exactly_one_wins(self, server, round_):
        body = server.password_grant()
        barrier = threading.Barrier(RACERS)
        answers: list = [None] * RACERS

        def race(index: int) -> None:
            barrier.wait()
            response = refresh(server, body["refresh_token"])
            is_json = response.headers.get("Content-Type", "").startswith("application/json")
            answers[index] = (response.status_code, response.json() if is_json else response.text[:200])

        threads = [threading.Thread(target=race, args=(index,)) for index in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200] + [400] * (RACERS - 1), answers
        assert all(answer["error"] == "invalid_grant" for status, answer in answers if status == 400), answers
        assert not server.introspect(body["access_token"]).json()["active"]  # the spent pair's access token


class TestLockUserCommand:
    def test_locked_users_tokens_are_inactive_at_once(self, server, console):
        body = server.password_grant(("erin", "erin-pw"))
        assert server.introspect(body["access_token"]).json()["active"]
        console.manage("lockuser", "--tenant", "carbon.super", "erin")
        # Ask several times: both workers answer the same.
        for _ in range(4):
            assert server.introspect(body["access_token"]).json() == {"active": False}
        response = refresh(server, body["refresh_token"])
        assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
        console.manage("unlockuser", "--tenant", "carbon.super", "erin")
        assert server.introspect(body["access_token"]).json() == {"active": False}
        assert server.password_grant(("erin", "erin-pw"))["access_token"]
