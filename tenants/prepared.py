"""A query of the ORM compiled once and run again with other values: the first sight of a
token (``introspection/lookup.py``).

Building a queryset and compiling its SQL cost more CPU than running it: on PostgreSQL a
token's indexed read is a few tens of microseconds of the client's CPU, while ``filter()``,
``only()`` and the compiler cost about 0.3 ms (docs/performance.md, "Where the time goes").
A ``PreparedQuery`` keeps the SQL and the parameters the ORM wrote for the queryset, per
database, and turns the row into a model instance as the ORM's ``ModelIterable`` does: the
backend's and the fields' converters, then ``Model.from_db``. The queryset is the ORM's own,
with its manager's scope: what runs is exactly what ``queryset.first()`` would run, minus
its ``ORDER BY`` when the queryset has none (write ``[:1]``). On PostgreSQL the values are
bound by the server, not quoted into the SQL by the client, and the statement is prepared.

Only plain querysets of one model are accepted (no ``select_related``, no annotations, no
``values()``): their rows map to the model's fields one to one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

from tenants.managers import TenantQuerySet

M = TypeVar("M", bound=Model)

_HOLE = "\x00prepared-value-{}\x00"  # stands for the n-th value while the ORM compiles


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]  # the compiled parameters, a value's position holding its hole
    holes: tuple[int, ...]  # the position of each value in ``params``
    names: list[str]  # the attnames of the selected fields, in the row's order
    converters: dict[int, tuple[list[Callable[..., Any]], Any]]  # by the row's position


class PreparedQuery(Generic[M]):
    """``build(*values)`` returns the queryset; ``first(*values)`` runs its SQL, compiled at the
    first call on each database, and returns the first row's model instance or None."""

    def __init__(self, model: type[M], build: Callable[..., QuerySet[M]], arity: int = 1):
        self.model = model
        self.build = build
        self.arity = arity
        self._compiled: dict[str, _Compiled] = {}  # by database alias

    def first(self, *values: Any) -> M | None:
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        compiled = self._compiled.get(alias)
        if compiled is None:
            compiled = self._compiled[alias] = self._compile(alias)
        params = list(compiled.params)
        for position, value in zip(compiled.holes, values, strict=True):
            params[position] = value
        with _cursor(connection) as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for position, (converters, expression) in compiled.converters.items():
            for convert in converters:
                row[position] = convert(row[position], expression, connection)
        return self.model.from_db(alias, compiled.names, row)

    def _compile(self, alias: str) -> _Compiled:
        holes = [_HOLE.format(n) for n in range(self.arity)]
        queryset = self.build(*holes)
        if isinstance(queryset, TenantQuerySet):
            queryset._require_scope()  # as when it runs: a tenant's rows need a tenant
        query = queryset.query
        if queryset._iterable_class is not ModelIterable or query.select_related or query.annotations:
            raise ValueError("PreparedQuery takes a plain queryset of one model")
        compiler = query.get_compiler(alias)
        sql, params = compiler.as_sql()
        positions = [_position(params, hole) for hole in holes]
        columns = [column for column, _, _ in compiler.select]
        return _Compiled(
            sql=sql,
            params=tuple(params),
            holes=tuple(positions),
            names=[column.target.attname for column in columns],
            converters=compiler.get_converters(columns),
        )


def _position(params: Sequence[Any], hole: str) -> int:
    found = [n for n, param in enumerate(params) if param == hole]
    if len(found) != 1:
        raise ValueError("each value of a PreparedQuery must be one parameter of its SQL")
    return found[0]


def _cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """Django's cursor on ``connection``; on PostgreSQL, one that sends the values apart from the
    SQL (psycopg's ``Cursor``, server-side binding) instead of Django's default ``ClientCursor``,
    which quotes each value into the SQL text in Python: about 35 µs more per first sight, in one
    process (docs/performance.md). Wrapped as Django wraps its own (errors, query logging). With
    ``[database.identity_db] prepared_statements`` (the default) psycopg runs it as a prepared
    statement, parsed and planned once a connection: Django's connections have a
    ``prepare_threshold`` of 0 then (``identity/database.py``), and its own cursors, binding in
    Python, are never prepared."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor: Any = psycopg.Cursor(connection.connection)  # DB-API's (django-stubs: a wrapper)
    return (
        connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)
    )
