"""The hot path: no database round trip for a token and caller seen before, one indexed read
at the first sight of a token, and the token in no log line, wherever it came from (form,
query string, Authorization header)."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from django.conf import settings
from django.db import connection

from identity.logs import AuditFormatter, JsonLineFormatter, RequestContextFilter, TextFormatter
from tests.support.auth import basic
from tests.support.introspection import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENDPOINT,
    FOO,
    SUPER,
    configured,
    make_refresh_token,
    make_token,
)
from tests.support.worlds import introspection_world

pytestmark = pytest.mark.django_db

ADMIN = basic("admin", "admin")
CLIENT_CALLERS = """
[[resource.access_control]]
context = "(.*)/oauth2/introspect(.*)"
allowed_auth_handlers = "BasicClientAuthentication"
"""


@pytest.fixture(scope="module")
def world(build_once):
    def make():
        world = introspection_world()
        client = world.clients[SUPER]
        world.access = make_token(client, scope="test1 test2")
        world.refresh = make_refresh_token(client, world.users[SUPER]["admin"], scope="test1")
        world.bearer = make_token(client, scope="internal_oauth2_introspect")
        world.revoked = make_token(client, revoked=True)
        world.foo = make_token(world.clients[FOO])
        return world

    return build_once(make)


def introspect(client, auth, token, method="post", **params):
    send = client.post if method == "post" else client.get
    return send(ENDPOINT[SUPER], {"token": token, **params}, secure=True, headers={"Authorization": auth})


def warm(client, auth, token) -> dict:
    """One request that caches the caller and the tenants; return its body."""
    response = introspect(client, auth, token)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


class TestQueryCount:
    """A warm introspection (caller and token seen before) does no database round trip; the first
    sight of a token is one indexed read of its table (as DOT pins its own query counts)."""

    @pytest.mark.parametrize("caller", ["client", "user", "bearer"])
    def test_warm_introspection_costs_no_query(
        self, client, world, deployment_override, django_assert_num_queries, caller
    ):
        if caller == "client":
            deployment_override(resource=configured(CLIENT_CALLERS).resource)
        auth = {"client": basic(CLIENT_ID, CLIENT_SECRET), "user": ADMIN, "bearer": f"Bearer {world.bearer}"}
        warm(client, auth[caller], world.access)
        with django_assert_num_queries(0):
            assert json.loads(introspect(client, auth[caller], world.access).content)["active"] is True

    @pytest.mark.parametrize("method", ["post", "get"])
    def test_first_sight_of_a_token_is_one_read(self, client, world, django_assert_num_queries, method):
        """Its client and user are cached already (another token of theirs was seen)."""
        warm(client, ADMIN, world.bearer)
        with django_assert_num_queries(1):
            body = json.loads(introspect(client, ADMIN, world.access, method=method).content)
        assert body["active"] is True
        with django_assert_num_queries(0):
            introspect(client, ADMIN, world.access, method=method)

    @pytest.mark.parametrize(
        ("hint", "queries"), [("refresh_token", 1), ("", 2), ("access_token", 2), ("x", 2)]
    )
    def test_refresh_token(self, client, world, django_assert_num_queries, hint, queries):
        """The hint orders the first search: right, one read; wrong or none, the access table first."""
        warm(client, ADMIN, world.access)
        with django_assert_num_queries(queries):
            body = json.loads(introspect(client, ADMIN, world.refresh, token_type_hint=hint).content)
        assert body["token_type"] == "Refresh"
        with django_assert_num_queries(0):
            introspect(client, ADMIN, world.refresh, token_type_hint=hint)

    @pytest.mark.parametrize(("hint", "queries"), [("access_token", 1), ("", 1), ("refresh_token", 2)])
    def test_access_token_by_hint(self, client, world, django_assert_num_queries, hint, queries):
        warm(client, ADMIN, world.bearer)
        with django_assert_num_queries(queries):
            introspect(client, ADMIN, world.access, token_type_hint=hint)

    @pytest.mark.parametrize(("token", "queries"), [("revoked", 0), ("foo", 0), ("unknown", 2)])
    def test_inactive(self, client, world, django_assert_num_queries, token, queries):
        """Known inactive tokens are cached; an unknown token is read again every time (never kept
        as unknown: it may be issued the next moment)."""
        warm(client, ADMIN, getattr(world, token, token))
        with django_assert_num_queries(queries):
            body = json.loads(introspect(client, ADMIN, getattr(world, token, token)).content)
        assert body == {"active": False}

    def test_read_is_by_digest(self, client, world, django_assert_num_queries):
        """The read filters on the indexed token_checksum column, never on the token."""
        warm(client, ADMIN, world.bearer)
        with django_assert_num_queries(1) as captured:
            introspect(client, ADMIN, world.access)
        (query,) = captured.captured_queries
        assert "token_checksum" in query["sql"]
        assert world.access not in query["sql"]


@pytest.fixture
def every_log(caplog):
    """Capture every record of every logger at DEBUG, SQL included; return caplog."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(log, log.level, log.propagate) for log in loggers]
    caplog.set_level(logging.DEBUG)
    for log in loggers:
        log.setLevel(logging.DEBUG)
        log.propagate = True  # `django` does not propagate (settings.LOGGING): make it, here
    connection.force_debug_cursor = True  # django.db.backends logs each query at DEBUG
    yield caplog
    connection.force_debug_cursor = False
    for log, level, propagate in saved:
        log.setLevel(level)
        log.propagate = propagate


def assert_not_logged(caplog, *secrets: str) -> None:
    """No record holds a secret, raw or as the console's JSON or text line or the audit line."""
    assert caplog.records, "nothing was captured: the test would prove nothing"
    # The request line and the audit decision are among what is checked.
    assert {"identity.request", "audit"} <= {record.name for record in caplog.records}
    formatters = (JsonLineFormatter(), TextFormatter(), AuditFormatter())
    for record in caplog.records:
        if not hasattr(record, "request_id"):
            RequestContextFilter().filter(record)
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        text += "".join(formatter.format(record) for formatter in formatters)
        for secret in secrets:
            assert secret not in text, f"{record.name} logged it: {record.getMessage()}"
    for secret in secrets:
        assert secret not in caplog.text


def without_get(deployment_override):
    oauth = settings.DEPLOYMENT.oauth
    deployment_override(
        oauth=dataclasses.replace(oauth, introspect=dataclasses.replace(oauth.introspect, allow_get=False))
    )


class TestTokensNeverLogged:
    """docs/introspection.md#the-request, docs/security.md: a token, in the form, the query string or a
    Bearer header, never reaches a log."""

    @pytest.mark.parametrize("method", ["post", "get"])
    @pytest.mark.parametrize(
        ("auth", "status"),
        [
            (ADMIN, 200),
            (None, 401),
            (basic("admin", "wrong"), 401),
            (basic("nobody", "nobody-pw"), 403),
        ],
    )
    def test_token_parameter(self, client, world, every_log, method, auth, status):
        for token in (world.access, world.refresh, world.revoked, "never-issued-token-value"):
            headers = {"Authorization": auth} if auth else {}
            send = client.post if method == "post" else client.get
            response = send(ENDPOINT[SUPER], {"token": token}, secure=True, headers=headers)
            assert response.status_code == status
        assert_not_logged(every_log, world.access, world.refresh, world.revoked, "never-issued-token-value")

    def test_get_refused_with_405(self, client, world, every_log, deployment_override):
        without_get(deployment_override)
        response = client.get(
            ENDPOINT[SUPER], {"token": world.access}, secure=True, headers={"Authorization": ADMIN}
        )
        assert response.status_code == 405
        assert any(record.name == "django.request" for record in every_log.records)
        assert_not_logged(every_log, world.access)

    def test_bearer_caller(self, client, world, every_log):
        for auth in (f"Bearer {world.bearer}", f"Bearer {world.revoked}"):
            client.get(ENDPOINT[SUPER], {"token": world.access}, secure=True, headers={"Authorization": auth})
        assert_not_logged(every_log, world.access, world.bearer, world.revoked)

    def test_other_tenant_and_query_string_on_post(self, client, world, every_log):
        path = f"{ENDPOINT[FOO]}?token={world.foo}"
        response = client.post(path, {"token": world.foo}, secure=True, headers={"Authorization": ADMIN})
        assert response.status_code == 401  # gate 1: a carbon.super user at foo.com
        assert_not_logged(every_log, world.foo)
