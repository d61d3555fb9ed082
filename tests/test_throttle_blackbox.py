"""Throttling against the real server: its gunicorn workers share the counters, and the 429
carries Retry-After (docs/security.md)."""

from __future__ import annotations

import pytest

from identity.bootstrap import DEMO_CLIENT

pytestmark = pytest.mark.blackbox

CONFIG = "[demo]\nenabled = true\n\n[throttle]\nper_identity = 4\nper_address = 1000\nwindow = 120\n"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(CONFIG)


def test_failures_counted_by_every_worker_end_in_429(server):
    # Each request is a new connection: the two workers take them in turn, and count together.
    statuses = [
        server.post("/oauth2/introspect", data={"token": "x"}, auth=("admin", "wrong")).status_code
        for _ in range(4)
    ]
    assert statuses == [401] * 4
    refused = server.post("/oauth2/introspect", data={"token": "x"}, auth=("admin", "admin"))
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_requests"
    assert 100 <= int(refused.headers["Retry-After"]) <= 120


def test_token_endpoint_client_authentication_is_throttled(server):
    wrong = (DEMO_CLIENT.client_id, "wrong")
    for _ in range(4):
        response = server.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=wrong)
        assert response.status_code == 401
    response = server.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret),
    )
    assert response.status_code == 429
    assert response.headers["Cache-Control"] == "no-store"
    assert int(response.headers["Retry-After"]) > 0
