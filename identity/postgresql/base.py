"""Django's PostgreSQL backend, lending a pooled connection without a check when it was just
returned in working order (``ENGINE = "identity.postgresql"``; docs/security.md, "Database
outage").

psycopg's pool can check each connection before lending it (Django's ``CONN_HEALTH_CHECKS``
with a pool): one empty round trip, so that a connection broken by a database restart is
replaced instead of failing a request. Under load every request paid it: a second round trip
at each first sight of a token (docs/performance.md). Here a connection is checked only when
it may be broken:

- it has been idle in the pool for more than ``IDLE_CHECK_SECONDS`` (the database, a proxy or
  a firewall may have closed it meanwhile), as HikariCP's ``aliveBypassWindowMs`` (500 ms) and
  PgBouncer's ``server_check_delay`` (30 s) skip the check of a connection used moments ago;
- or this process has seen the database fail since it was returned: a connection found
  unusable at the end of its request (Django's ``errors_occurred``), or the change listener
  losing its own connection (``tenants.changes``), which hears a restart first.

A connection lent for the first time is checked too (the pool may have opened it long before).
A connection that fails its check goes back to the pool, which discards it and opens another,
and the next one is taken.

A statement run prepared (``[database.identity_db] prepared_statements``: the first sight's
token read, ``tenants/prepared.py``) leaves psycopg no text of the query, so Django's query log
would record ``None``: it records the SQL as Django wrote it instead.
"""

from __future__ import annotations

import time
from weakref import WeakKeyDictionary

import psycopg
from django.db.backends.postgresql import base, operations
from psycopg_pool import ConnectionPool

from tenants import changes

IDLE_CHECK_SECONDS = 0.5

# Each pooled connection Django handed back: when, and how many failures had been seen then.
_returned: WeakKeyDictionary[psycopg.Connection, tuple[float, int]] = WeakKeyDictionary()
_failed_connections = 0  # connections of this process found unusable


def failures_seen() -> int:
    """The database failures this process has seen: its connections', its listener's."""
    return _failed_connections + changes.listener_failures()


def needs_check(connection: psycopg.Connection) -> bool:
    """Whether a connection the pool lends may be broken (see the module's docstring)."""
    returned = _returned.get(connection)
    if returned is None:
        return True  # never lent: it may have waited in the pool since it was opened
    when, failures = returned
    return time.monotonic() - when > IDLE_CHECK_SECONDS or failures != failures_seen()


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        return super().last_executed_query(cursor, sql, params) or sql


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_new_connection(self, conn_params):
        while True:
            connection = super().get_new_connection(conn_params)
            if self.pool is None or not needs_check(connection):
                return connection
            try:
                ConnectionPool.check_connection(connection)
            except psycopg.Error:
                self.pool.putconn(connection)  # broken: discarded, and replaced
                continue
            return connection

    def _close(self):
        global _failed_connections
        if self.pool is not None and self.connection is not None:
            if self.errors_occurred:  # still set: the connection was found unusable
                _failed_connections += 1
            _returned[self.connection] = (time.monotonic(), failures_seen())
        return super()._close()
