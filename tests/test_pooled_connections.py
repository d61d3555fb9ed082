"""``identity/postgresql``: a pooled connection is checked before it is lent only when it may be
broken (idle for a while, or a failure seen since it was returned), and a connection the
database dropped is replaced instead of failing a request (docs/security.md, "Database
outage"). PostgreSQL only: SQLite has no pool."""

from __future__ import annotations

import time
from unittest import mock

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connection
from psycopg_pool import ConnectionPool

from identity.postgresql import base
from tenants import changes
from tests.support.polling import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connection pool"),
]


@pytest.fixture
def checks(monkeypatch) -> mock.Mock:
    """Every check of a connection before it is lent (psycopg's own check, counted)."""
    spy = mock.Mock(side_effect=ConnectionPool.check_connection)
    monkeypatch.setattr(ConnectionPool, "check_connection", spy)
    return spy


def request() -> int:
    """What a request does: borrow a connection, query, hand it back; return the backend's pid."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]
    finally:
        close_old_connections()  # Django's request_finished: back to the pool


def terminate(application_name: str | None = None) -> int:
    """Drop this database's other backends (the pool's, or the one of ``application_name``),
    as a restart would; return how many."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND (%(name)s::text IS NULL OR application_name = %(name)s)",
            {"name": application_name},
        ).fetchall()
    return len(rows)


def warm() -> None:
    """Lend each of the pool's connections once (a connection lent for the first time is checked)."""
    for _ in range(connection.pool.max_size):
        request()


def test_a_connection_returned_moments_ago_is_lent_unchecked(checks):
    warm()
    checks.reset_mock()
    for _ in range(5):
        request()
    assert checks.call_count == 0


def test_a_connection_idle_for_a_while_is_checked(checks):
    warm()
    checks.reset_mock()
    time.sleep(base.IDLE_CHECK_SECONDS + 0.1)
    request()
    assert checks.call_count == 1


def test_a_connection_dropped_while_idle_is_replaced(checks):
    first = request()
    assert terminate() >= 1
    time.sleep(base.IDLE_CHECK_SECONDS + 0.1)
    assert request() != first  # no error: the dropped one failed its check and was replaced
    assert checks.call_count >= 1


def test_after_a_connection_failed_every_connection_is_checked(checks, monkeypatch):
    """Under load (no idle time) a restart breaks the connection in use: that request fails,
    as it would have anyway. The ones after it are checked and get working connections."""
    monkeypatch.setattr(base, "IDLE_CHECK_SECONDS", 3600)
    warm()
    checks.reset_mock()
    assert terminate() >= 1
    with pytest.raises(OperationalError):
        request()
    assert checks.call_count == 0
    for _ in range(connection.pool.max_size + 1):  # all of the pool's connections were dropped
        request()
    assert checks.call_count >= 1


def test_after_the_listener_lost_its_connection_every_connection_is_checked(checks, monkeypatch):
    """The change listener hears a restart first: the pooled connections are checked before
    any request meets one the restart broke."""
    monkeypatch.setattr(base, "IDLE_CHECK_SECONDS", 3600)
    listener = changes.Listener(changes._conninfo())
    monkeypatch.setattr(changes, "_listener", listener)
    listener.start()
    try:
        assert listener.connected.wait(5)
        warm()
        checks.reset_mock()
        assert terminate(changes.LISTENER_NAME) == 1
        assert wait_for(lambda: listener.failures == 1, 5)
        request()
        assert checks.call_count == 1
    finally:
        listener.stop()
        listener.join(5)
