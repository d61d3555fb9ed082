"""``tenants/prepared.py``: a query compiled once returns what the ORM returns, runs the SQL the
ORM writes, compiles it once per database, and keeps its manager's tenant scope."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler

from identity.models import AccessToken, RefreshToken
from identity.models.tokens import token_checksum
from introspection.lookup import _ACCESS_FIELDS
from tenants.managers import TenantScopeError
from tenants.prepared import PreparedQuery
from tests.support.introspection import SUPER, make_token
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db


def orm_query(checksum: str):
    return AccessToken.objects.all_tenants().only(*_ACCESS_FIELDS).filter(token_checksum=checksum)[:1]


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        client = world.clients[SUPER]
        world.tokens = [
            make_token(client, scope="test1 test2", resource=("https://api.example.com/", "urn:x")),
            make_token(client, user=None, grant_type="client_credentials"),
            make_token(client, revoked=True, expires_in=-10),
        ]
        return world

    return build_once(make)


def fields(token: AccessToken) -> dict:
    """The selected fields' values, by attname (``user_id``, not ``user``: no extra read)."""
    names = ["id", *(AccessToken._meta.get_field(name).attname for name in _ACCESS_FIELDS)]
    return {name: getattr(token, name) for name in names}


@pytest.mark.parametrize("index", range(3))
def test_the_instance_is_the_orms(world, index):
    """Every selected field equal and of the same type (the converters ran: the JSON resource
    is a list, datetimes are aware), the rest deferred as with ``only()``."""
    checksum = token_checksum(world.tokens[index])
    prepared = PreparedQuery(AccessToken, orm_query).first(checksum)
    (expected,) = orm_query(checksum)
    assert fields(prepared) == fields(expected)
    assert [type(value) for value in fields(prepared).values()] == [
        type(value) for value in fields(expected).values()
    ]
    assert prepared.get_deferred_fields() == expected.get_deferred_fields()
    assert prepared._state.db == expected._state.db and prepared._state.adding is False


def test_no_row_is_none(world):
    assert PreparedQuery(AccessToken, orm_query).first(token_checksum("never issued")) is None


def test_it_runs_the_orms_sql_compiled_once(world, django_assert_num_queries):
    query = PreparedQuery(AccessToken, orm_query)
    with mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql) as as_sql:
        for raw in world.tokens:
            with django_assert_num_queries(1) as captured:
                assert query.first(token_checksum(raw)) is not None
            (ran,) = captured.captured_queries
            if connection.vendor == "postgresql":  # bound by the server: a parameter of the statement
                assert ran["sql"].endswith('"token_checksum" = %s LIMIT 1')  # Django's SQL: it ran prepared
            else:
                assert token_checksum(raw) in ran["sql"]
    assert as_sql.call_count == 1
    orm_sql, _ = orm_query("x").query.sql_with_params()
    assert ran["sql"].split(" WHERE ")[0] == orm_sql.split(" WHERE ")[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL prepared statement")
def test_on_postgresql_the_read_is_prepared_once_a_connection(world):
    """``[database.identity_db] prepared_statements`` (on in the tests' settings): the server
    parses and plans the read once; each later read only binds the value."""
    query = PreparedQuery(AccessToken, orm_query)
    for raw in world.tokens:
        assert query.first(token_checksum(raw)) is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        statements = [statement for (statement,) in cursor.fetchall()]
    (prepared,) = [s for s in statements if '"token_checksum" = $1' in s]
    assert prepared.startswith('SELECT "identity_accesstoken"."id"')


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL prepared statement")
def test_without_prepared_statements_nothing_is_prepared(world):
    """``prepared_statements = false`` sets psycopg's ``prepare_threshold`` to None (for a
    proxy that would lose them): the read is bound by the server, never prepared."""
    connection.ensure_connection()
    threshold, connection.connection.prepare_threshold = connection.connection.prepare_threshold, None
    try:
        assert PreparedQuery(AccessToken, orm_query).first(token_checksum(world.tokens[0])) is not None
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql")
            assert cursor.fetchone() == (0,)
    finally:
        connection.connection.prepare_threshold = threshold


def test_a_value_is_a_parameter_never_sql(world):
    """A value that looks like SQL is only compared: it finds nothing and breaks nothing."""
    assert PreparedQuery(AccessToken, orm_query).first("' OR 1=1 --") is None


def test_the_tenant_scope_is_kept(world):
    unscoped = PreparedQuery(
        AccessToken, lambda checksum: AccessToken.objects.filter(token_checksum=checksum)
    )
    with pytest.raises(TenantScopeError):
        unscoped.first(token_checksum(world.tokens[0]))


def test_only_plain_querysets(world):
    related = PreparedQuery(
        RefreshToken,
        lambda checksum: (
            RefreshToken.objects.all_tenants().select_related("access_token").filter(token_checksum=checksum)
        ),
    )
    with pytest.raises(ValueError, match="plain queryset"):
        related.first("x")
