"""The connection of first sights (introspection/first_sight.py ``KeptConnection``): kept for
the next first sight while the pool would lend it again unchecked, handed back otherwise, and a
kept connection the database dropped costs no request. PostgreSQL only: SQLite has no pool.

These requests go through the server's application without the test support's ``send``,
which keeps a test transaction's connection: here connections come and go as in a worker.
"""

from __future__ import annotations

import json
import threading
import time
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.db import close_old_connections, connection
from django.test import RequestFactory
from psycopg_pool import ConnectionPool

from introspection import first_sight
from tests.support.auth import basic
from tests.support.introspection import (
    CLIENT_AND_USER_CALLERS,
    CLIENT_ID,
    CLIENT_SECRET,
    ENDPOINT,
    SUPER,
    configured,
    make_token,
)
from tests.support.worlds import introspection_world
from tests.support.wsgi import server_application
from tests.test_pooled_connections import terminate

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connection pool"),
]


@pytest.fixture
def world(deployment_override):
    deployment_override(resource=configured(CLIENT_AND_USER_CALLERS).resource)
    built = introspection_world()
    close_old_connections()
    yield built
    close_old_connections()


@pytest.fixture
def lends(monkeypatch) -> mock.Mock:
    """Every connection the pool lends."""
    spy = mock.Mock(side_effect=ConnectionPool.getconn, autospec=True)
    monkeypatch.setattr(ConnectionPool, "getconn", lambda pool, *args, **kwargs: spy(pool, *args, **kwargs))
    return spy


application = server_application()


def tokens(world, count: int) -> list[str]:
    """New tokens, issued before the first sights (their writes use the connection too)."""
    made = [make_token(world.clients[SUPER]) for _ in range(count)]
    close_old_connections()  # as the request that issued them would
    return made


def introspect(token: str) -> dict:
    """A first sight of ``token``, as a worker serves it (Django's signals included)."""
    request = RequestFactory().post(
        ENDPOINT[SUPER],
        urlencode({"token": token}),
        "application/x-www-form-urlencoded",
        secure=True,
        HTTP_AUTHORIZATION=basic(CLIENT_ID, CLIENT_SECRET),
    )
    started = {}
    body = b"".join(
        application(request.environ, lambda status, headers, exc_info=None: started.update(s=status))
    )
    assert started["s"] == "200 OK", body
    return json.loads(body)


def test_back_to_back_first_sights_share_one_lent_connection(world, lends):
    first, *others = tokens(world, 6)
    introspect(first)  # Django's, which keeps the caller's pass
    lends.reset_mock()
    for token in others:
        assert introspect(token)["active"] is True
    assert lends.call_count == 1
    assert connection.connection is not None  # kept for the next one


def test_a_connection_idle_too_long_is_handed_back_before_use(world, lends):
    first, second, third = tokens(world, 3)
    introspect(first)
    introspect(second)
    lends.reset_mock()
    time.sleep(first_sight.KEEP_SECONDS + 0.1)
    assert introspect(third)["active"] is True
    assert lends.call_count == 1  # lent again, so checked by the pool (identity/postgresql)


def test_a_connection_kept_too_long_is_handed_back_after_use(world, monkeypatch):
    first, second, third = tokens(world, 3)
    introspect(first)
    introspect(second)
    assert connection.connection is not None
    monkeypatch.setattr(first_sight, "KEEP_SECONDS", 0.0)
    introspect(third)
    assert connection.connection is None


def test_a_kept_connection_the_database_dropped_costs_no_request(world):
    first, second, third = tokens(world, 3)
    introspect(first)
    introspect(second)
    assert connection.connection is not None
    assert terminate() >= 1
    # The kept connection fails its read: Django answers, on a connection the pool checked.
    assert introspect(third)["active"] is True


def test_a_connection_is_kept_by_the_main_thread_only(world):
    """A threaded server (``runserver``: a thread a request) would never hand it back."""
    first, second = tokens(world, 2)
    introspect(first)
    held = []

    def serve() -> None:
        assert introspect(second)["active"] is True  # a first sight, in this thread
        held.append(connection.connection is not None)
        close_old_connections()

    worker = threading.Thread(target=serve)
    worker.start()
    worker.join()
    assert held == [False]
