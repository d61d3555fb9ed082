"""Operations against the real server (gunicorn, 2 workers, TLS): health probes, the metrics
merged across workers, JSON log lines with request ids, and the audit file."""

from __future__ import annotations

import json
import os
import stat

import pytest
from prometheus_client.parser import text_string_to_metric_families

from identity.bootstrap import DEMO_CLIENT
from tests.support.server import SECRET_KEY, RunningServer, free_port

pytestmark = [pytest.mark.blackbox, pytest.mark.long(8)]

CLIENT = (DEMO_CLIENT.client_id, DEMO_CLIENT.client_secret)
ADMIN = ("admin", "admin")
INTROSPECT = "/oauth2/introspect"


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory('[demo]\nenabled = true\n\n[logging]\nformat = "json"\n')


def scrape(server) -> dict[tuple, float]:
    """Return every sample of /metrics as {(name, sorted labels): value}."""
    response = server.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def issue(server, scope: str = "test1") -> str:
    response = server.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "scope": scope}, auth=CLIENT
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


class TestHealth:
    def test_live_and_ready(self, server):
        assert server.get("/health/live").json() == {"status": "UP"}
        ready = server.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"]["database"] == "UP"


class TestMetrics:
    def test_counters_move_across_workers(self, server):
        token = issue(server)
        server.settle()
        before = scrape(server)
        for _ in range(20):
            assert server.post(INTROSPECT, data={"token": token}, auth=ADMIN).json()["active"] is True
        for _ in range(3):
            assert server.post(INTROSPECT, data={"token": token}, auth=("admin", "wrong")).status_code == 401
        issue(server)
        server.settle()  # each worker adds its counts to its own file together, within 0.1 s
        after = scrape(server)
        # Each worker counts in its own file; the scrape adds them up: exact totals.
        assert moved(before, after, "identity_introspections_total", outcome="active") == 20
        assert moved(before, after, "identity_introspections_total", outcome="401") == 3
        requests_total = "identity_http_requests_total"
        assert moved(before, after, requests_total, endpoint="introspect", method="POST", status="200") == 20
        assert moved(before, after, requests_total, endpoint="introspect", method="POST", status="401") == 3
        assert moved(before, after, requests_total, endpoint="token", method="POST", status="200") == 1
        count = "identity_http_request_duration_seconds_count"
        assert moved(before, after, count, endpoint="introspect") == 23
        assert list((server.folder / "var" / "metrics").glob("counter_*.db"))
        if os.environ.get("TEST_DATABASE_URL"):  # SQLite has no connection pool
            assert after[("identity_db_pool_connections", (("state", "size"),))] >= 1

    def test_no_tenant_or_client_in_labels(self, server):
        server.get("/t/foo.com/health")
        text = server.get("/metrics").text
        assert "foo.com" not in text
        assert CLIENT[0] not in text


class TestLogsAndAudit:
    def test_request_line_and_audit_of_a_get_introspection(self, server):
        caller, token = issue(server, "internal_oauth2_introspect"), issue(server)
        response = server.get(
            INTROSPECT,
            params={"token": token},
            headers={"Authorization": f"Bearer {caller}", "X-Request-ID": "bb-request-1"},
        )
        assert response.json()["active"] is True
        assert response.headers["X-Request-ID"] == "bb-request-1"
        log = server.written_log()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        (line,) = [line for line in lines if line.get("request_id") == "bb-request-1"]
        assert {key: line[key] for key in ("logger", "method", "path", "status", "tenant")} == {
            "logger": "identity.request",
            "method": "GET",
            "path": INTROSPECT,
            "status": 200,
            "tenant": "carbon.super",
        }
        assert all("request_id" in line and "time" in line for line in lines)
        for secret in (token, caller, CLIENT[1]):
            assert secret not in log

        audit_file = server.folder / "var" / "log" / "audit.jsonl"
        assert stat.S_IMODE(audit_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(audit_file.parent.stat().st_mode) == 0o700
        audit_text = audit_file.read_text()
        events = [json.loads(line) for line in audit_text.splitlines()]
        (decision,) = [event for event in events if event["request_id"] == "bb-request-1"]
        assert decision["event"] == "introspection.decision"
        assert (decision["caller_kind"], decision["caller"], decision["gate"], decision["outcome"]) == (
            "bearer",
            CLIENT[0],
            "passed",
            "active",
        )
        assert {"token.issued", "introspection.decision"} <= {event["event"] for event in events}
        for secret in (token, caller, CLIENT[1]):
            assert secret not in audit_text

    def test_a_replayed_answer_writes_the_lines_django_wrote(self, server):
        """Repeats are answered before Django (introspection/replay.py) with lines made ahead:
        each request still has its request line and its audit event, alike but for the time,
        the request id and the duration."""
        token = issue(server)
        server.settle()
        before = scrape(server)
        ids = [f"bb-replay-{number}" for number in range(8)]
        for rid in ids:
            response = server.post(
                INTROSPECT, data={"token": token}, auth=ADMIN, headers={"X-Request-ID": rid}
            )
            assert response.json()["active"] is True and response.headers["X-Request-ID"] == rid
        log = server.written_log()
        assert moved(before, scrape(server), "identity_cache_lookups_total", kind="answer", result="hit") >= 1
        audit_text = (server.folder / "var" / "log" / "audit.jsonl").read_text()
        varying = ("time", "request_id", "duration_ms")
        for lines in (log.splitlines(), audit_text.splitlines()):
            by_id = {
                line["request_id"]: {key: value for key, value in line.items() if key not in varying}
                for line in map(json.loads, (line for line in lines if line.startswith("{")))
                if line.get("request_id") in ids
            }
            assert sorted(by_id) == sorted(ids)
            assert len({json.dumps(line, sort_keys=True) for line in by_id.values()}) == 1, by_id


def test_ready_is_503_naming_the_database_when_it_refuses(tmp_path):
    """A PostgreSQL where nothing listens: the process is live, not ready.

    (``pool_timeout``, the wait for a pooled connection, is short: none will come, and the answer
    does not depend on how long the probe waited for it.)
    """
    server = RunningServer(tmp_path, "")
    server.toml.write_text(
        f'[server]\nhostname = "localhost"\nport = {server.port}\nworkers = 1\ndebug = true\n'
        f'secret_key = "{SECRET_KEY}"\n\n[super_admin]\nusername = "admin"\npassword = "admin"\n\n'
        f'[database.identity_db]\ntype = "postgres"\nurl = "postgresql://postgres@127.0.0.1:{free_port()}/none"\n'
        "pool_min_size = 1\npool_max_size = 1\npool_timeout = 0.1\n"
    )
    server.launch()
    try:
        server.wait_ready(path="/health/live")
        response = server.get("/health/ready")
        assert response.status_code == 503
        # The change listener cannot connect either: nothing cached is trusted meanwhile.
        assert response.json() == {
            "status": "DOWN",
            "checks": {"database": "DOWN", "change_listener": "DOWN"},
            "failed": ["change_listener", "database"],
        }
    finally:
        server.stop()
